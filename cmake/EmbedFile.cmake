# Run as a script (cmake -DINPUT=… -DOUTPUT=… -DSYMBOL=… -P EmbedFile.cmake): writes a C++
# source defining `std::string_view certward::embedded::<SYMBOL>()` over the bytes of INPUT. A byte array, not a
# string literal: documents and web assets outgrow the 64 KiB literal compilers must accept.
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# Break the array into lines so compilers and diffs of the generated file stay comfortable.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" bytes "${bytes}")
get_filename_component(name ${INPUT} NAME)
set(content "// Generated from ${name} by cmake/EmbedFile.cmake; do not edit.\n#include <string_view>\n\nnamespace certward::embedded {\n\nstd::string_view ${SYMBOL}();\n\nnamespace {\nconstexpr unsigned char kBytes[] = {\n${bytes}0x00};\n}  // namespace\n\nstd::string_view ${SYMBOL}() {\n  return {reinterpret_cast<const char*>(kBytes), ${size}};\n}\n\n}  // namespace certward::embedded\n")
# Rewrite only on change, so an unchanged input does not recompile anything.
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} previous)
  if(previous STREQUAL content)
    return()
  endif()
endif()
file(WRITE ${OUTPUT} "${content}")
