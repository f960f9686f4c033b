#!/bin/bash
# Stage: libyaml (the policy parser; h2o's own configuration language).
# Compiled directly: its autotools build adds nothing we need.
set -euo pipefail
cd "$SRC"
mkdir -p obj "$PREFIX/lib" "$PREFIX/include"
m4val() { sed -n "s/^m4_define(\[YAML_$1\], *\([0-9]*\)).*/\1/p" configure.ac; }
major=$(m4val MAJOR) minor=$(m4val MINOR) patch=$(m4val PATCH)
ver="$major.$minor.$patch"
for f in src/*.c; do
    # shellcheck disable=SC2086 # CFLAGS is a list of flags: split on purpose
    $CC $CFLAGS -Iinclude -Isrc -DYAML_DECLARE_STATIC \
        -DYAML_VERSION_STRING="\"$ver\"" -DYAML_VERSION_MAJOR="$major" \
        -DYAML_VERSION_MINOR="$minor" -DYAML_VERSION_PATCH="$patch" \
        -c "$f" -o "obj/$(basename "${f%.c}").o"
done
ar rcsD "$PREFIX/lib/libyaml.a" obj/*.o
cp include/yaml.h "$PREFIX/include/"
