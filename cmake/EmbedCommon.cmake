# Shared by the embedding scripts (EmbedFile.cmake, EmbedDashboard.cmake), run with cmake -P.

# certward_bytes_array(<file> <bytes-var> <size-var>): the file's bytes as a C++ initializer list
# ("0x2d,0x2d,...", 32 a line) and their count. A byte array, not a string literal: documents and
# web assets outgrow the 64 KiB literal compilers must accept.
function(certward_bytes_array file bytes_var size_var)
  file(READ ${file} hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # Break the array into lines so compilers and diffs of the generated file stay comfortable.
  string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" bytes "${bytes}")
  set(${bytes_var} "${bytes}" PARENT_SCOPE)
  set(${size_var} ${size} PARENT_SCOPE)
endfunction()

# certward_write_if_changed(<file> <content>): rewrites only on change, so that an unchanged
# input recompiles nothing.
function(certward_write_if_changed file content)
  if(EXISTS ${file})
    file(READ ${file} previous)
    if(previous STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE ${file} "${content}")
endfunction()
