# Run as a script (cmake -DINPUT=<dir> -DOUTPUT=<file.cc> -P EmbedDashboard.cmake): writes a C++
# source defining certward::server::dashboard_assets() over every file of the dashboard's build
# (web/, built by Vite into INPUT): its URL path, content type and bytes.
include(${CMAKE_CURRENT_LIST_DIR}/EmbedCommon.cmake)
file(GLOB_RECURSE files RELATIVE ${INPUT} ${INPUT}/*)
list(SORT files)
set(arrays "")
set(table "")
set(index 0)
foreach(f IN LISTS files)
  certward_bytes_array(${INPUT}/${f} bytes size)
  string(REGEX MATCH "[^.]+$" ext "${f}")
  if(ext STREQUAL "html")
    set(type "text/html; charset=utf-8")
  elseif(ext STREQUAL "js")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL "css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL "svg")
    set(type "image/svg+xml")
  elseif(ext STREQUAL "png")
    set(type "image/png")
  elseif(ext STREQUAL "ico")
    set(type "image/x-icon")
  elseif(ext STREQUAL "woff2")
    set(type "font/woff2")
  elseif(ext STREQUAL "json")
    set(type "application/json")
  else()
    message(FATAL_ERROR "EmbedDashboard: no content type for ${f}; add one here")
  endif()
  string(APPEND arrays "constexpr unsigned char kFile${index}[] = {\n${bytes}0x00};\n")
  string(APPEND table "      {\"/${f}\", \"${type}\", {reinterpret_cast<const char*>(kFile${index}), ${size}}},\n")
  math(EXPR index "${index} + 1")
endforeach()
if(index EQUAL 0)
  message(FATAL_ERROR "EmbedDashboard: ${INPUT} holds no file; the dashboard build made nothing")
endif()
set(content "// Generated from the dashboard's build (web/) by cmake/EmbedDashboard.cmake; do not edit.
#include <span>

#include \"server/dashboard.h\"

namespace certward::server {
namespace {
${arrays}}  // namespace

std::span<const DashboardAsset> dashboard_assets() {
  static const DashboardAsset kAssets[] = {
${table}  };
  return kAssets;
}

}  // namespace certward::server
")
certward_write_if_changed(${OUTPUT} "${content}")
