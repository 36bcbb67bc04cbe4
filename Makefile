# dendrite: the PostgreSQL extension (PGXS). The engine is built by CMake into build/ and linked statically.
#
#   make                  build dendrite.so (and the engine, its tests and the CUDA plugin via CMake;
#                         ENGINE_TARGETS="dendrite_engine dendritectl" for the extension and the CLI only)
#   make install          install the extension into the PostgreSQL that pg_config names
#   make installcheck     pg_regress suites against a running server (scripts/test.sh starts one)
#   make isolationcheck   the isolation suites (concurrent sessions) against a running server
#   make engine-test      the GoogleTest unit tests (ctest)
#
# The two commands of the README, scripts/demo.sh and scripts/test.sh, install dependencies, start a
# throw-away cluster and call these targets.

PG_CONFIG ?= pg_config

EXTENSION = dendrite
MODULE_big = dendrite
OBJS = src/pg/background.o src/pg/boundary.o src/pg/catalog.o src/pg/featurize.o src/pg/featurizer_cache.o src/pg/featurizer_rows.o src/pg/query_pass.o src/pg/row_binding.o src/pg/derived_columns.o src/pg/explain.o src/pg/generate.o src/pg/guard.o src/pg/guard_actions.o src/pg/guard_capture.o src/pg/guard_state.o src/pg/lifecycle.o \
       src/pg/model_cache.o src/pg/model_rows.o src/pg/module.o src/pg/privileges.o src/pg/progress.o src/pg/score.o src/pg/shared_history.o src/pg/train.o src/pg/training_data.o src/pg/training_device.o src/pg/upsert_watch.o src/pg/values.o
# The SQL surface: src/sql/dendrite.sql is the current version's install script (hand-edited), copied to
# dendrite--<default_version>.sql at build time; dendrite--0.1.0.sql and the upgrade deltas are frozen.
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" dendrite.control)
DATA = $(wildcard src/sql/dendrite--*.sql)
DATA_built = build/sql/dendrite--$(EXTVERSION).sql
REGRESS = setup parameters_as_rows score explain blend deploy errors unscorable featurize derived generate guard guard_capture shadow training_settings device embeddings security privileges lifecycle retraining tune anomaly scaleout hostile
REGRESS_OPTS = --inputdir=. --outputdir=build/regress

ENGINE_BUILD = build
ENGINE_LIB = $(ENGINE_BUILD)/libdendrite_engine.a
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

# PostgreSQL's headers as system headers: -Wextra would flag their unused parameters.
PG_CPPFLAGS = -I$(CURDIR)/src -isystem $(shell $(PG_CONFIG) --includedir-server) -isystem /usr/include/eigen3 -DEIGEN_NO_DEBUG
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -Wno-register -Wno-missing-field-initializers \
              -Wno-maybe-uninitialized -march=native -fno-omit-frame-pointer
SHLIB_LINK = $(ENGINE_LIB) -lxgboost -lstdc++ -lpthread -ldl

# No LLVM bitcode: PostgreSQL's JIT does not inline C++ and Debian's server needs no .bc files.
override with_llvm = no


PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS compiles C++ with $(CXX) $(CXXFLAGS); -Wall in pg_config's flags needs no repetition.
override CXXFLAGS := $(filter-out -Wmissing-prototypes -Wdeclaration-after-statement,$(CXXFLAGS))

# Which of the engine's CMake targets `make` builds: all of them by default (unit tests, benchmarks, the
# CUDA plugin); scripts/demo.sh builds only what the demo runs, ENGINE_TARGETS="dendrite_engine dendritectl".
ENGINE_TARGETS ?= all
$(ENGINE_LIB): FORCE
	cmake -S . -B $(ENGINE_BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ENGINE_BUILD) -j$$(nproc) --target $(ENGINE_TARGETS)

build/sql/dendrite--$(EXTVERSION).sql: src/sql/dendrite.sql dendrite.control
	mkdir -p build/sql && cp $< $@

$(shlib): $(ENGINE_LIB)
$(OBJS): $(wildcard src/engine/*.hpp src/pg/*.hpp)

# dendritectl beside PostgreSQL's own programs (pg_config --bindir).
install: install-cli install-cuda-plugin
# Debian keeps that directory off the PATH (psql and friends reach it through /usr/bin's wrappers): a link
# in /usr/local/bin puts dendritectl on it, when installing for this machine as a user who may write there.
install-cli: $(ENGINE_LIB)
	$(INSTALL_PROGRAM) $(ENGINE_BUILD)/dendritectl '$(DESTDIR)$(bindir)/dendritectl'
	if [ -z '$(DESTDIR)' ] && [ -d /usr/local/bin ] && [ -w /usr/local/bin ]; then \
	  ln -sf '$(bindir)/dendritectl' /usr/local/bin/dendritectl; fi

# The CUDA plugin beside dendrite.so (dendrite.cuda_library's default), when nvcc built one.
install-cuda-plugin: $(ENGINE_LIB)
	if [ -f $(ENGINE_BUILD)/dendrite_cuda.so ]; then \
	  $(INSTALL_SHLIB) $(ENGINE_BUILD)/dendrite_cuda.so '$(DESTDIR)$(pkglibdir)/dendrite_cuda.so'; fi

installcheck: | build/regress
print-regress:
	@echo $(REGRESS)
build/regress build/isolation:
	mkdir -p $@

# Isolation suites (specs/NAME.spec, expected/NAME.out): what concurrent sessions see of each other, run by
# PostgreSQL's isolation tester against a running server, in a database of its own.
ISOLATION_SUITES = shared_history history_labels
isolationcheck: | build/isolation
	$(top_builddir)/src/test/isolation/pg_isolation_regress --inputdir=. --outputdir=build/isolation \
	  --bindir='$(bindir)' --dbname=dendrite_isolation $(ISOLATION_SUITES)

engine-test: $(ENGINE_LIB)
	cd $(ENGINE_BUILD) && ctest --output-on-failure

.PHONY: FORCE engine-test install-cli install-cuda-plugin print-regress
FORCE:
