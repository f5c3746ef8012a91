# Run as a script (cmake -DINPUT=… -DOUTPUT=… -DSYMBOL=… -P EmbedFile.cmake): writes a C++
# source defining `std::string_view certward::embedded::<SYMBOL>()` over the bytes of INPUT.
include(${CMAKE_CURRENT_LIST_DIR}/EmbedCommon.cmake)
certward_bytes_array(${INPUT} bytes size)
get_filename_component(name ${INPUT} NAME)
set(content "// Generated from ${name} by cmake/EmbedFile.cmake; do not edit.\n#include <string_view>\n\nnamespace certward::embedded {\n\nstd::string_view ${SYMBOL}();\n\nnamespace {\nconstexpr unsigned char kBytes[] = {\n${bytes}0x00};\n}  // namespace\n\nstd::string_view ${SYMBOL}() {\n  return {reinterpret_cast<const char*>(kBytes), ${size}};\n}\n\n}  // namespace certward::embedded\n")
certward_write_if_changed(${OUTPUT} "${content}")
