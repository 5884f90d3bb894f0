# What `cmake --install` puts where, in the places Debian's tools look (GNUInstallDirs under the
# prefix, /usr for the .deb of cmake/Packaging.cmake):
#   bin/bsup
#   share/man/man1/bsup.1.gz                           (gzip -9n, as Debian policy 12.1 asks)
#   share/bash-completion/completions/bsup             (loaded on demand by bash-completion)
#   share/zsh/vendor-completions/_bsup                 (in the fpath of Debian's zsh)
#   share/fish/vendor_completions.d/bsup.fish          (read by Debian's fish)
# Included once from the top-level CMakeLists.txt, after the bsup target is defined.
include(GNUInstallDirs)

install(TARGETS bsup RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The man page, compressed at build time: -n leaves out the name and time stamp, so the .deb is
# reproducible; -9 is what dh_compress uses.
find_program(BSUP_GZIP gzip REQUIRED)
set(bsup_man_gz ${PROJECT_BINARY_DIR}/man/bsup.1.gz)
add_custom_command(
  OUTPUT ${bsup_man_gz}
  COMMAND ${CMAKE_COMMAND} -E copy ${PROJECT_SOURCE_DIR}/man/bsup.1
          ${PROJECT_BINARY_DIR}/man/bsup.1
  COMMAND ${BSUP_GZIP} -9nf ${PROJECT_BINARY_DIR}/man/bsup.1
  DEPENDS ${PROJECT_SOURCE_DIR}/man/bsup.1
  COMMENT "Compressing man/bsup.1"
  VERBATIM)
add_custom_target(bsup_man ALL DEPENDS ${bsup_man_gz})
install(FILES ${bsup_man_gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

set(bsup_completions ${PROJECT_SOURCE_DIR}/completions)
install(FILES ${bsup_completions}/bsup.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME bsup)
install(FILES ${bsup_completions}/_bsup DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${bsup_completions}/bsup.fish
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
