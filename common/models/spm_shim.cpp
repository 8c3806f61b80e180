// The only C++ in the tokenizers: SentencePiece has no C API. Exceptions never cross into C.
#include "spm_shim.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <new>
#include <vector>

struct sora_spm {
	sentencepiece::SentencePieceProcessor sp;
};

extern "C" int sora_spm_load(sora_spm **out, const char *path, sora_err *e)
{
	*out = nullptr;
	try {
		sora_spm *m = new sora_spm;
		auto st = m->sp.Load(path);
		if (!st.ok()) {
			delete m;
			return SORA_FAIL(e, "%s: cannot load the SentencePiece model: %s", path,
					 st.ToString().c_str());
		}
		*out = m;
		return 0;
	} catch (const std::exception &x) {
		return SORA_FAIL(e, "%s: cannot load the SentencePiece model: %s", path, x.what());
	}
}

extern "C" void sora_spm_free(sora_spm *m)
{
	delete m;
}

extern "C" int sora_spm_encode(const sora_spm *m, const char *text, size_t len, int **ids, int *n, int *cap,
			       sora_err *e)
{
	try {
		std::vector<int> v;
		auto st = m->sp.Encode(absl::string_view(text, len), &v);
		if (!st.ok())
			return SORA_FAIL(e, "SentencePiece: %s", st.ToString().c_str());
		if (*n + (int)v.size() > *cap) {
			int c = (*n + (int)v.size()) * 2 + 16;
			int *p = (int *)realloc(*ids, (size_t)c * sizeof *p);
			if (!p)
				return SORA_FAIL(e, "out of memory");
			*ids = p;
			*cap = c;
		}
		for (int id : v)
			(*ids)[(*n)++] = id;
		return 0;
	} catch (const std::exception &x) {
		return SORA_FAIL(e, "SentencePiece: %s", x.what());
	}
}

extern "C" int sora_spm_piece_count(const sora_spm *m)
{
	return m->sp.GetPieceSize();
}
