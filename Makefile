# pg_pipeline: build with PGXS.
#
#   make && make install            build and install into $(PG_CONFIG)'s tree
#   make installcheck               pg_regress on a temporary preloaded instance
#   make prove_installcheck         TAP tests under test/t
#   make lint                       cppcheck over src/
#
# Libraries, by pkg-config: librdkafka, zstd, libyaml, and Graphviz's
# libgvc (the layout of pipeline.lineage_html, src/lineage/).
#
# One version number: EXTVERSION.  The extension's SQL is written once, in
# the area files control/sql/*.sql (SQL_SOURCES, concatenated in that
# order), each object as it is in the current release; make builds from
# them the full install script control/pg_pipeline--$(EXTVERSION).sql
# (generated, not in git, as pgvector builds its own).  Beside it ship
# control/pg_pipeline--0.1.0.sql, the oldest release (frozen: never edit
# it), and the hand-written upgrade scripts
# control/pg_pipeline--<previous>--<next>.sql, one per release, never edited
# once shipped.  Changing the SQL: edit the area file AND write the same
# change into the upgrade script to EXTVERSION; test/t/013_upgrade.pl
# installs 0.1.0, updates along the chain and fails, naming the object,
# where that differs from a fresh install (docs/architecture.md, "Changing
# the SQL").

EXTENSION    = pg_pipeline
EXTVERSION   = 0.12.0
MODULE_big   = pg_pipeline

SRCS         = $(sort $(wildcard src/*.c src/*/*.c))
OBJS         = $(SRCS:.c=.o)

# core first: it opens the install script and defines what the others use
SQL_SOURCES  = control/sql/core.sql control/sql/kafka.sql \
               control/sql/window.sql control/sql/scheduler.sql \
               control/sql/model.sql control/sql/model_build.sql \
               control/sql/model_run.sql control/sql/model_seed.sql \
               control/sql/quality.sql control/sql/contract.sql \
               control/sql/status.sql control/sql/lineage.sql
DATA_built   = control/pg_pipeline--$(EXTVERSION).sql
DATA         = control/pg_pipeline--0.1.0.sql $(wildcard control/pg_pipeline--*--*.sql)
EXTRA_CLEAN  = pg_pipeline.control

# Every test lives under test/: the pg_regress suite in test/sql and
# test/expected (its results and temporary instance go to test/ too), the
# TAP tests in test/t with their helper module test/PipelineTest.pm.
REGRESS      = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=$(srcdir)/test --outputdir=test \
               --temp-config=$(srcdir)/test/preload.conf \
               --temp-instance=test/tmp_check --port=$(or $(PGPORT),55432)
EXTRA_CLEAN += test/results test/log test/regression.diffs test/regression.out test/*.notify \
               test/tmp_check tmp_check

PG_CONFIG   ?= pg_config
PKG_CONFIG  ?= pkg-config

PG_CPPFLAGS  = -I$(srcdir)/src -DPP_VERSION=\"$(EXTVERSION)\" $(shell $(PKG_CONFIG) --cflags rdkafka libzstd yaml-0.1 libgvc)
PG_CFLAGS    = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK   = $(shell $(PKG_CONFIG) --libs rdkafka libzstd yaml-0.1 libgvc)

ifdef WERROR
PG_CFLAGS   += -Werror
endif

# The control file lives in control/; PGXS wants it at the top as
# $(EXTENSION).control, so generate it with the one version number.
all: pg_pipeline.control

pg_pipeline.control: control/pg_pipeline.control.in Makefile
	sed 's/@EXTVERSION@/$(EXTVERSION)/' $< > $@

# The full install script of the current version: the area files, in order.
$(DATA_built): $(SQL_SOURCES)
	cat $^ > $@


PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The test broker (librdkafka's mock cluster) is a test tool, not part of
# the extension: built on demand.
.PHONY: broker lint prove_installcheck
broker:
	$(MAKE) -C test/broker

# The TAP tests, by PGXS's own recipe (TESTDIR, PG_REGRESS, PATH with the
# server's bindir, PostgreSQL::Test::* on the include path; logs in
# tmp_check/log), over test/t instead of t/.  One file:
#   make prove_installcheck PROVE_TESTS=test/t/010_worker_lifecycle.pl
PG_PROVE_FLAGS += -I $(srcdir)/test
PROVE_TESTS ?= test/t/*.pl
prove_installcheck: broker
	$(prove_installcheck)

lint:
	cppcheck --quiet --error-exitcode=1 --std=c99 \
		--enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem \
		-I src -I $(shell $(PG_CONFIG) --includedir-server) \
		--suppress='*:$(shell $(PG_CONFIG) --includedir-server)/*' \
		-D__GNUC__ -DPG_PIPELINE_LINT src

# the version is compiled into the library: rebuild when it changes; and
# every object when a header changes (structs are shared across files)
src/pg_pipeline.o: Makefile
$(OBJS): $(wildcard src/*/*.h)
