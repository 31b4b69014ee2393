# Pare: `make demo` and `make test` work on a fresh Debian machine with Swift.
SWIFT   ?= swift
PARE    := .build/release/pare
PACKAGES := libopenblas-dev libhdf5-dev pkg-config
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build test demo bench clean

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

# Until the bundled reference model exists, the demo decodes with a randomly initialised
# model made here (its answers are noise; the point is the pipeline and the NFE counts).
DEMO_MODEL := .build/demo-random.h5
demo: build
	$(PARE) init --output $(DEMO_MODEL) --seed 0
	$(PARE) inspect --model $(DEMO_MODEL)
	$(PARE) generate --model $(DEMO_MODEL) --prompt "12+34=" --sampler fixed
	$(PARE) generate --model $(DEMO_MODEL) --prompt "12+34=" --sampler threshold --threshold 0.5
	$(PARE) generate --model $(DEMO_MODEL) --prompt "rev:hello=" --sampler factor --block-length 4 --prophet

bench: build
	$(PARE) bench forward

clean:
	rm -rf .build
