# The curation and encoding pipeline as a Makefile: a folder of videos in, training shards out.
#
#   make -f configs/pipeline.mk VIDEOS=raw/ OUT=work/ SHARDS=8 \
#        CAPTION_ARGS='--endpoint http://vlm:8000/v1/chat/completions --model Qwen/Qwen2.5-VL-7B-Instruct' \
#        T5=models/t5-v1_1-xxl CLIP=models/clip-vit-large-patch14 -j8
#
# The videos are cut into SHARDS input shards (sora-probe --shard I/SHARDS over the folder), and each shard
# runs probe -> split -> score -> filter -> caption -> encode on its own, one file per stage:
#
#   OUT/meta/I.csv  OUT/clips/I.csv (the clips written to OUT/cuts/ID.mp4)  OUT/scored/I.csv  OUT/kept/I.csv
#   OUT/captioned/I.csv  OUT/encoded/I/ (a dataset: index.json + shard-*.mdb) and OUT/encoded/I.done
#
# so `make -j8` runs 8 shards at once, `make shard-I` runs one (a Slurm array task), and a re-run redoes only
# what is missing: every file is written to a temporary name and renamed when its stage succeeded. Rejects go
# to OUT/rejects/STAGE-I.csv, rows the filter dropped to OUT/dropped/I.csv.
#
# Targets: all (default), shard-I, meta, clips, scored, kept, captioned (every shard up to that stage),
# summary (rows per stage), clean (OUT's stage files and clips).
# New videos in VIDEOS are not noticed: run into a new OUT, or `make clean` first.

# The programs: this repository's bin/ unless given.
BIN ?= $(abspath $(dir $(lastword $(MAKEFILE_LIST)))../bin)
VIDEOS ?=
OUT ?= work
SHARDS ?= 8
# -j of each program (rows at once); make's own -j runs shards at once.
THREADS ?= 2
PROBE_ARGS ?=
SPLIT_ARGS ?= --min-sec 2
SCORE_ARGS ?= --scores vmafmotion,blur,brightness,black
FILTER ?= 'num_frames >= 25' 'black_ratio < 0.5'
# sora-caption's source: --endpoint URL --model NAME [...], or --from FILE.
CAPTION_ARGS ?=
# The encoders (published-layout model folders) and sora-encode's own flags.
T5 ?=
CLIP ?=
ENCODE_ARGS ?=
# ENCODE=0 stops after captioning.
ENCODE ?= 1

ifeq ($(strip $(VIDEOS)),)
$(error set VIDEOS=DIR, the folder of videos (see the top of $(lastword $(MAKEFILE_LIST))))
endif

IDS := $(shell seq 0 $$(($(SHARDS) - 1)))
LAST := $(if $(filter 1,$(ENCODE)),encoded/%.done,captioned/%.csv)
# The temporary name a stage writes, renamed to its target once the stage succeeded.
tmp = $(dir $@).$(notdir $@).tmp
done = mv $(tmp) $@

# A changed SHARDS would mix two cuts of the videos in OUT: refuse.
$(shell mkdir -p $(OUT))
ifneq ($(wildcard $(OUT)/.shards),)
ifneq ($(shell cat $(OUT)/.shards),$(SHARDS))
$(error $(OUT) was made with SHARDS=$(shell cat $(OUT)/.shards), not $(SHARDS): use that, another OUT, or make clean)
endif
else
$(shell echo $(SHARDS) > $(OUT)/.shards.$$$$ && mv $(OUT)/.shards.$$$$ $(OUT)/.shards)
endif

.PHONY: all meta clips scored kept captioned summary clean $(IDS:%=shard-%)
.DELETE_ON_ERROR:

all: $(IDS:%=shard-%)

$(IDS:%=shard-%): shard-%: $(OUT)/$(LAST)

meta: $(IDS:%=$(OUT)/meta/%.csv)
clips: $(IDS:%=$(OUT)/clips/%.csv)
scored: $(IDS:%=$(OUT)/scored/%.csv)
kept: $(IDS:%=$(OUT)/kept/%.csv)
captioned: $(IDS:%=$(OUT)/captioned/%.csv)

$(OUT)/meta/%.csv:
	@mkdir -p $(@D) $(OUT)/rejects
	$(BIN)/sora-probe -q --shard $*/$(SHARDS) -j $(THREADS) $(PROBE_ARGS) --rejects $(OUT)/rejects/probe-$*.csv \
		$(VIDEOS) > $(tmp) && $(done)

$(OUT)/clips/%.csv: $(OUT)/meta/%.csv
	@mkdir -p $(@D)
	$(BIN)/sora-split -q -j $(THREADS) --cut-dir $(OUT)/cuts $(SPLIT_ARGS) --rejects $(OUT)/rejects/split-$*.csv \
		< $< > $(tmp) && $(done)

$(OUT)/scored/%.csv: $(OUT)/clips/%.csv
	@mkdir -p $(@D)
	$(BIN)/sora-score -q -j $(THREADS) $(SCORE_ARGS) --rejects $(OUT)/rejects/score-$*.csv < $< > $(tmp) && $(done)

$(OUT)/kept/%.csv: $(OUT)/scored/%.csv
	@mkdir -p $(@D) $(OUT)/dropped
	$(BIN)/sora-filter -q --dropped $(OUT)/dropped/$*.csv $(FILTER) < $< > $(tmp) && $(done)

$(OUT)/captioned/%.csv: $(OUT)/kept/%.csv
	@mkdir -p $(@D)
	@test -n "$(strip $(CAPTION_ARGS))" || { echo "set CAPTION_ARGS (--endpoint URL --model NAME, or --from FILE)" >&2; exit 2; }
	$(BIN)/sora-caption -q -j $(THREADS) $(CAPTION_ARGS) --rejects $(OUT)/rejects/caption-$*.csv < $< > $(tmp) && $(done)

# sora-encode resumes by itself (ids already in sealed shards are skipped): a re-run after a crash is cheap.
$(OUT)/encoded/%.done: $(OUT)/captioned/%.csv
	@test -n "$(T5)" -a -n "$(CLIP)" || { echo "set T5=DIR and CLIP=DIR (model folders), or ENCODE=0" >&2; exit 2; }
	$(BIN)/sora-encode -q -j $(THREADS) --t5 $(T5) --clip $(CLIP) $(ENCODE_ARGS) --out $(OUT)/encoded/$* \
		--rejects $(OUT)/rejects/encode-$*.csv < $< && touch $@

# Rows per stage (data rows of every shard's file) and rejects.
summary:
	@for s in meta clips scored kept captioned; do \
		n=0; f=0; for i in $(IDS); do \
			[ -f $(OUT)/$$s/$$i.csv ] && { n=$$((n + $$(wc -l < $(OUT)/$$s/$$i.csv) - 1)); f=$$((f + 1)); }; done; \
		printf '%-10s %6d rows  (%d of $(SHARDS) shards done)\n' $$s $$n $$f; done
	@printf '%-10s %6d shards done\n' encoded $$(ls $(OUT)/encoded/*.done 2>/dev/null | wc -l)
	@n=0; for f in $(OUT)/rejects/*.csv; do [ -s "$$f" ] && n=$$((n + $$(wc -l < "$$f") - 1)); done; \
		printf '%-10s %6d rows (OUT/rejects/)\n' rejected $$n

clean:
	rm -rf $(OUT)/meta $(OUT)/clips $(OUT)/cuts $(OUT)/scored $(OUT)/kept $(OUT)/dropped $(OUT)/captioned \
		$(OUT)/encoded $(OUT)/rejects $(OUT)/.shards
