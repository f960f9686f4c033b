# Rules for the h2o stage (deps/build/h2o.sh); the what is in h2o.mk.
include $(H2O_MK)

OBJS := $(H2O_SRCS:%.c=obj/%.o)
ALL_CFLAGS := $(CFLAGS) -std=gnu99 -pthread $(H2O_DEFINES) \
    $(addprefix -I,$(H2O_INCLUDES)) -I$(MBEDTLS_INC) \
    -DMBEDTLS_CONFIG_FILE='"mbedtls/bulwark_mbedtls_config.h"'

all: $(OUT)/lib/libh2o-evloop.a headers

obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OUT)/lib/libh2o-evloop.a: $(OBJS)
	@mkdir -p $(dir $@)
	ar rcsD $@ $^

# Public headers: everything under h2o's include dirs, flattened per dir.
headers:
	@mkdir -p $(OUT)/include
	for d in $(H2O_INCLUDES); do (cd $$d && find . -name "*.h" -exec cp --parents {} $(OUT)/include/ \;); done

.PHONY: all headers
