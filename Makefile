# pg_pipeline: build with PGXS.
#
#   make && make install            build and install into $(PG_CONFIG)'s tree
#   make installcheck               pg_regress on a temporary preloaded instance
#   make prove_installcheck         TAP tests under test/t
#   make lint                       cppcheck over src/
#
# One version number: EXTVERSION. Every release ships an install script
# control/pg_pipeline--$(EXTVERSION).sql and an upgrade script from the
# previous release.

EXTENSION    = pg_pipeline
EXTVERSION   = 0.6.0
MODULE_big   = pg_pipeline

SRCS         = $(sort $(wildcard src/*.c src/*/*.c))
OBJS         = $(SRCS:.c=.o)

DATA         = $(wildcard control/pg_pipeline--*.sql)
EXTRA_CLEAN  = pg_pipeline.control

REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-config=$(srcdir)/test/preload.conf \
               --temp-instance=tmp_check --port=$(or $(PGPORT),55432)

PG_CONFIG   ?= pg_config
PKG_CONFIG  ?= pkg-config

PG_CPPFLAGS  = -I$(srcdir)/src -DPP_VERSION=\"$(EXTVERSION)\" $(shell $(PKG_CONFIG) --cflags rdkafka libzstd)
PG_CFLAGS    = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK   = $(shell $(PKG_CONFIG) --libs rdkafka libzstd)

ifdef WERROR
PG_CFLAGS   += -Werror
endif

# The control file lives in control/; PGXS wants it at the top as
# $(EXTENSION).control, so generate it with the one version number.
all: pg_pipeline.control

pg_pipeline.control: control/pg_pipeline.control.in Makefile
	sed 's/@EXTVERSION@/$(EXTVERSION)/' $< > $@


PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The test broker (librdkafka's mock cluster) is a test tool, not part of
# the extension: built on demand.
.PHONY: broker lint prove_installcheck
broker:
	$(MAKE) -C test/broker

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
