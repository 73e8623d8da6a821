# Documentation and shell integration: man pages built from man/*.scd with scdoc, shell
# completions, JSON Schemas and examples, all installed below CMAKE_INSTALL_PREFIX.
# Included from the top-level CMakeLists.txt (after include(GNUInstallDirs)).

option(AGENTJAIL_MAN "Build and install the man pages (needs scdoc)" ON)
set(AGENTJAIL_BASH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions"
    CACHE STRING "Where the bash completion goes, relative to the prefix (bash-completion's lazy-loading dir)")
# zsh searches PREFIX/share/zsh/site-functions for prefixes it was built with (/usr/local);
# Debian's packages use share/zsh/vendor-completions instead (packaging/debian/rules sets it).
set(AGENTJAIL_ZSH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/zsh/site-functions"
    CACHE STRING "Where the zsh completion goes, relative to the prefix")
set(AGENTJAIL_FISH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d"
    CACHE STRING "Where the fish completion goes, relative to the prefix")

if(AGENTJAIL_MAN)
  find_program(SCDOC scdoc)
  if(NOT SCDOC)
    message(FATAL_ERROR "scdoc not found: install it (scripts/install-deps.sh does) or configure with -DAGENTJAIL_MAN=OFF")
  endif()
  set(AGENTJAIL_MAN_PAGES)
  foreach(page agentjail.1 agentjail-policy.5 agentjail-serve.1)
    set(source ${CMAKE_SOURCE_DIR}/man/${page}.scd)
    set(output ${CMAKE_BINARY_DIR}/man/${page})
    # scdoc reads stdin and writes stdout; a shell redirect is the portable way to say so.
    add_custom_command(
      OUTPUT ${output}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND sh -c "\"$1\" < \"$2\" > \"$3.tmp\" && mv \"$3.tmp\" \"$3\"" sh ${SCDOC} ${source} ${output}
      DEPENDS ${source}
      COMMENT "scdoc ${page}"
      VERBATIM)
    list(APPEND AGENTJAIL_MAN_PAGES ${output})
    string(REGEX MATCH "[0-9]$" section ${page})
    install(FILES ${output} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(man ALL DEPENDS ${AGENTJAIL_MAN_PAGES})
endif()

install(FILES ${CMAKE_SOURCE_DIR}/completions/agentjail.bash DESTINATION ${AGENTJAIL_BASH_COMPLETION_DIR}
        RENAME agentjail)
install(FILES ${CMAKE_SOURCE_DIR}/completions/_agentjail DESTINATION ${AGENTJAIL_ZSH_COMPLETION_DIR})
install(FILES ${CMAKE_SOURCE_DIR}/completions/agentjail.fish DESTINATION ${AGENTJAIL_FISH_COMPLETION_DIR})

install(FILES ${CMAKE_SOURCE_DIR}/schemas/report.schema.json ${CMAKE_SOURCE_DIR}/schemas/policy.schema.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/agentjail/schemas)

install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        PATTERN "__pycache__" EXCLUDE)
