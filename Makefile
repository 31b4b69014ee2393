# Pare: `make demo` and `make test` work on a fresh Debian machine with Swift.
SWIFT    ?= swift
PARE     := .build/release/pare
MODEL    := models/pare-tiny.h5
PACKAGES := libopenblas-dev libhdf5-dev pkg-config
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
OUT      := .build/pare-out

.PHONY: deps build test demo bench speed sparse results reports report-cells model model-dep model-dep-card scale clean

# Installs the system libraries Pare links against, only when one is missing.
deps:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) test

# The main job: prune the bundled model to 50 % with Wanda, then compare dense and pruned
# on accuracy per task, NFE under the threshold sampler, and likelihood.
demo: build
	@mkdir -p $(OUT)
	$(PARE) prune --model $(MODEL) --sparsity 0.5 --method wanda --output $(OUT)/pare-tiny.wanda-50.h5
	$(PARE) compare dense=$(MODEL) wanda-50=$(OUT)/pare-tiny.wanda-50.h5 --samples 200

# Forward pass vs cblas_sgemm on the same shapes (default LLaDA-like shape, then the bundled
# model's), the decode loop on the bundled model, then the sparse kernels vs sgemm/sgemv on
# LLaDA-8B's 4096 x 4096 linear.
bench: build
	$(PARE) bench forward
	$(PARE) bench forward --d-model 128 --n-heads 4 --d-ff 344 --n-layers 8 --tokens 28 --sequences 64 --vocab 45
	$(PARE) bench generate
	$(PARE) bench kernels --shapes 4096x4096 --tokens 1,64,256

# The decoding-speed figures (README "Performance"): forward vs sgemm, the decode loop, eval's
# wall time, PyTorch eager on the same weights (needs pip's torch and h5py), threading threshold.
speed: build
	experiments/decoding-speed.sh

# The sparse kernels' acceptance figures (median of three runs; PARE_SIMD=avx2 for the AVX2
# build), then `generate --kernels sparse` against dense on a pruned LLaDA-shaped model.
sparse: build
	experiments/kernels.sh
	experiments/sparse-generate.sh

# Time and peak memory of prune / drop / generate on a synthetic 1.06 B-parameter bf16 model,
# streamed and resident (the README's "Models larger than memory" table; about 30 minutes).
scale: build
	experiments/scale.sh

# The README results table (reports/results.md), spliced between the results markers.
results: build
	$(PARE) report --model $(MODEL) --config experiments/results.yaml --output reports/results.md
	@awk 'BEGIN{skip=0} /<!-- results:begin -->/{print; while((getline line < "reports/results.md")>0) print line; skip=1; next} /<!-- results:end -->/{skip=0} !skip' README.md > README.md.tmp && mv README.md.tmp README.md

# The reports (reports/NAME/: index.md, SVG plots, results.csv and .json) from experiments/NAME.yaml.
# Every cell of a report (model variant × evaluation) is its own make target, cached in
# reports/NAME/cells/ under a hash of its inputs: `make -j2 reports` computes two cells at a
# time, and an interrupted run resumes where it stopped. Then each report is merged.
REPORTS := depth-ablation depth-ablation-dep sparsity-sweep samplers samplers-dep kernels

reports: build
	@$(MAKE) --no-print-directory report-cells
	@for r in $(REPORTS); do $(PARE) report experiments/$$r.yaml --merge || exit 1; done

# cell/NAME/K for every cell K of every report, listed by the built binary (only when asked for:
# the list needs the binary, which `reports` builds first).
ifneq ($(filter report-cells,$(MAKECMDGOALS)),)
REPORT_CELLS := $(foreach r,$(REPORTS),$(addprefix cell/$(r)/,$(shell $(PARE) report experiments/$(r).yaml --list | cut -f1)))
endif
report-cells: $(REPORT_CELLS)
cell/%:
	@$(PARE) report experiments/$(word 1,$(subst /, ,$*)).yaml --cell $(word 2,$(subst /, ,$*))

# Retrains the bundled model from its four committed recipes: three kv-curriculum stages
# (outputs in .build/, skipped when up to date), then all four tasks on top. About 80 minutes
# on a quiet 2-core machine. RESUME=1 continues an interrupted stage from its checkpoint.
KV_STAGES := .build/pare-tiny-kv1.h5 .build/pare-tiny-kv2.h5 .build/pare-tiny-kv3.h5
# --resume for the output $(1) when RESUME is set and its checkpoint folder exists.
resume_flag = $(if $(RESUME),$(if $(wildcard $(1).train),--resume,),)

.build/pare-tiny-kv1.h5: experiments/pare-tiny-kv1.yaml | build
	$(PARE) train --config $< --output $@ $(call resume_flag,$@)
.build/pare-tiny-kv2.h5: experiments/pare-tiny-kv2.yaml .build/pare-tiny-kv1.h5 | build
	$(PARE) train --config $< --output $@ $(call resume_flag,$@)
.build/pare-tiny-kv3.h5: experiments/pare-tiny-kv3.yaml .build/pare-tiny-kv2.h5 | build
	$(PARE) train --config $< --output $@ $(call resume_flag,$@)

model: $(KV_STAGES) | build
	$(PARE) train --config experiments/pare-tiny.yaml --output $(MODEL) $(call resume_flag,$(MODEL))

# Trains the second bundled model, pare-dep, on the dependent-token tasks (docs/tasks.md) from its
# two committed recipes: hops, carry, color from scratch (output in .build/, skipped when up to
# date), then spread added. About 35 minutes on a quiet 2-core machine; niced so that it leaves
# the machine to timings. RESUME=1 continues an interrupted stage from its checkpoint.
DEP_MODEL := models/pare-dep.h5
.build/pare-dep-1.h5: experiments/pare-dep-1.yaml | build
	nice -n 19 $(PARE) train --config $< --output $@ $(call resume_flag,$@)
model-dep: .build/pare-dep-1.h5 | build
	nice -n 19 $(PARE) train --config experiments/pare-dep.yaml --output $(DEP_MODEL) $(call resume_flag,$(DEP_MODEL))

# pare-dep's model card tables (models/pare-dep.md, between its card markers): five samplers on the dense model and
# its Wanda-50 and drop-2 versions, with NFE and decode order.
model-dep-card: build
	python3 experiments/pare_dep_card.py --pare $(PARE) --model $(DEP_MODEL)

clean:
	rm -rf .build
