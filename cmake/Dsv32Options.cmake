# Warnings and the sanitizer build shared by every target in the tree.
add_compile_options(-Wall -Wextra -Wno-unused-parameter)
if(DSV32_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
