# The Debian package: what `cmake --install` puts where, and CPack's DEB generator.
# scripts/package.sh builds it; docs/operations.md ("Installing from the Debian package")
# describes what it installs and does.
#
# Paths are those of the package: the program and its documentation under the prefix (/usr in
# the package), the configuration and the systemd unit at the absolute paths Debian uses for
# them.

include(GNUInstallDirs)

# Only what the package holds is built for it: `install` (and so cpack) does not first build
# every target, the tests and benchmarks included. scripts/package.sh builds the targets below.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# Man pages and bash completion, written by the built binary from its own command tree
# (src/cli/cmd_docs.cc), so that they always match it.
set(certward_docs_dir ${CMAKE_BINARY_DIR}/packaging)
add_custom_command(
  OUTPUT ${certward_docs_dir}/man1/certward.1.gz ${certward_docs_dir}/certward.bash
  COMMAND ${CMAKE_COMMAND} -DCERTWARD=$<TARGET_FILE:certward> -DOUT=${certward_docs_dir}
          "-DSOURCE=certward ${PROJECT_VERSION}" -P ${PROJECT_SOURCE_DIR}/cmake/CliDocs.cmake
  DEPENDS certward ${PROJECT_SOURCE_DIR}/cmake/CliDocs.cmake
  COMMENT "Generating the man pages and bash completion" VERBATIM)
add_custom_target(certward_docs
  DEPENDS ${certward_docs_dir}/man1/certward.1.gz ${certward_docs_dir}/certward.bash)

install(TARGETS certward RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${certward_docs_dir}/man1 DESTINATION ${CMAKE_INSTALL_MANDIR}
        FILES_MATCHING PATTERN "*.1.gz")
install(FILES ${certward_docs_dir}/certward.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME certward)
# Group certward (made by postinst, dpkg-statoverride) reads them; nobody else.
install(FILES packaging/certward.toml DESTINATION /etc/certward
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES packaging/certward.service DESTINATION /lib/systemd/system)
set(doc_dir ${CMAKE_INSTALL_DATADIR}/doc/certward)
install(FILES README.md NOTICE CHANGELOG.md packaging/debian/copyright DESTINATION ${doc_dir})
file(GLOB certward_doc_pages ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${certward_doc_pages} docs/certward.example.toml DESTINATION ${doc_dir}/docs)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME certward)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "certificate lifecycle server: private CA, inventory, ACME, EST, SCEP, CMP")
set(CPACK_PACKAGE_DESCRIPTION
    "certward keeps one inventory of an organisation's certificates, issues from its own\n\
private CA hierarchy under enforced profiles, and records every change in a hash-chained\n\
audit log. It serves a REST API, a web dashboard, ACME, EST, SCEP and CMP, CRLs and OCSP,\n\
renews and deploys managed certificates, and discovers certificates on networks and hosts.\n\
This package runs it as the certward system service.")
set(CERTWARD_DEB_MAINTAINER "The certward authors <maintainers@certward.invalid>"
    CACHE STRING "Maintainer field of the Debian package")
set(CPACK_PACKAGE_CONTACT ${CERTWARD_DEB_MAINTAINER})
set(CPACK_STRIP_FILES ON)  # the RelWithDebInfo symbols stay in the build tree
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # certward_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)      # dpkg-shlibdeps adds the libraries' packages
# adduser: postinst creates the user with it; procps: /bin/kill, the unit's ExecReload.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, procps")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles  # CPack marks no file a conffile itself
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
