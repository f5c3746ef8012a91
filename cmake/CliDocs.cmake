# cmake -DCERTWARD=<binary> -DOUT=<dir> -DSOURCE=<text> -P CliDocs.cmake
# Writes <dir>/man1/*.1.gz (certward manual, compressed as Debian wants man pages) and
# <dir>/certward.bash (certward completion bash). gzip -n: the same pages give the same bytes.
file(REMOVE_RECURSE ${OUT}/man1)
execute_process(COMMAND ${CERTWARD} manual --man-dir ${OUT}/man1 --source ${SOURCE}
                COMMAND_ERROR_IS_FATAL ANY)
file(GLOB pages ${OUT}/man1/*.1)
execute_process(COMMAND gzip -9nf ${pages} COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${CERTWARD} completion bash OUTPUT_FILE ${OUT}/certward.bash
                COMMAND_ERROR_IS_FATAL ANY)
