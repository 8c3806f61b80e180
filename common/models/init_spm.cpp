// The only C++ of the model maker: SentencePiece's trainer has no C API. Exceptions never cross into C.
#include "init_spm.h"

#include <sentencepiece_trainer.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>

namespace
{
// Hands the trainer our sentences from memory (no corpus file).
class Sentences : public sentencepiece::SentenceIterator
{
      public:
	Sentences(const char *const *s, int n) : s_(s), n_(n) { load(); }
	bool done() const override { return i_ >= n_; }
	void Next() override
	{
		i_++;
		load();
	}
	const std::string &value() const override { return cur_; }
	sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

      private:
	void load()
	{
		if (i_ < n_)
			cur_ = s_[i_];
	}
	const char *const *s_;
	int n_, i_ = 0;
	std::string cur_;
};
} // namespace

extern "C" int sora_spm_train(const char *const *sentences, int n, int pieces, char **model, size_t *len,
			      sora_err *e)
{
	*model = nullptr;
	*len = 0;
	try {
		const std::unordered_map<std::string, std::string> args = {
		    {"model_type", "unigram"},
		    {"vocab_size", std::to_string(pieces)},
		    {"hard_vocab_limit", "false"},
		    {"character_coverage", "1.0"},
		    {"normalization_rule_name", "nmt_nfkc"},
		    {"pad_id", "0"},
		    {"eos_id", "1"},
		    {"unk_id", "2"},
		    {"bos_id", "-1"},
		    {"num_threads", "1"},
		    {"minloglevel", "2"},
		};
		Sentences it(sentences, n);
		std::string proto;
		auto st = sentencepiece::SentencePieceTrainer::Train(args, &it, &proto);
		if (!st.ok())
			return SORA_FAIL(e, "SentencePiece training: %s", st.ToString().c_str());
		char *p = static_cast<char *>(malloc(proto.size()));
		if (!p)
			return SORA_FAIL(e, "out of memory");
		memcpy(p, proto.data(), proto.size());
		*model = p;
		*len = proto.size();
		return 0;
	} catch (const std::exception &x) {
		return SORA_FAIL(e, "SentencePiece training: %s", x.what());
	}
}
