# The Debian package: `cpack -G DEB` in the build folder writes bsup_<version>_<arch>.deb from the
# install rules of cmake/Install.cmake, under /usr. tests/packaging/ builds it, installs it with
# dpkg and checks it. Included once from the top-level CMakeLists.txt, after cmake/Install.cmake.
#
# Dependencies (docs/DESIGN.md, "Packaging"): bsup links libstdc++ and SQLite statically, so its
# ELF NEEDED list is libc only, and dpkg-shlibdeps derives Depends from the binary itself.
# libpq5 and libcurl4 are loaded with dlopen on first use of the postgres driver and of the consul
# driver over https, which dpkg-shlibdeps cannot see: they are Recommends, installed by apt by
# default and left out by --no-install-recommends for a sqlite-only image.
set(BSUP_PACKAGE_MAINTAINER "bsup maintainers <bsup@example.org>"
    CACHE STRING "Maintainer field of the .deb: Name <address>")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME bsup)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "bsup")
set(CPACK_PACKAGE_CONTACT "${BSUP_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Packages go to the build folder's packages/ (cpack -B DIR overrides it).
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)

set(CPACK_DEBIAN_PACKAGE_NAME bsup)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${BSUP_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "${PROJECT_DESCRIPTION}
bsup makes sure that a resource (a database migration, a cron or CDC trigger,
an action) is used by one process at a time, across machines, from a shell,
and keeps a registry of the services that run. Locks live in sessions with a
TTL on the backend's clock, so the lock of a crashed job frees itself.
Backends: an embedded SQLite database (the default, for one machine),
PostgreSQL (libpq5) and Consul (libcurl4 for https), the last two loaded
on first use.")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libpq5, libcurl4")

include(CPack)
