# Warnings and the sanitizer build shared by every target in the tree.
add_compile_options(-Wall -Wextra -Wno-unused-parameter)
# Highway compiles its Ice Lake target (AVX-512 VNNI and VBMI2) only when
# asked; the INT4 kernels' integer dot products need it.
add_compile_definitions(HWY_WANT_AVX3_DL)
if(DSV32_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  # The kernels are built outside the sanitizers (below), so compiling them
  # for every target here only adds build and test time: this pass keeps
  # AVX2 and AVX-512 with VNNI (what the CI machine runs) and the portable
  # baseline. The Release build compiles and tests every target.
  add_compile_definitions(HWY_DISABLED_TARGETS=HWY_SSSE3|HWY_SSE4|HWY_AVX3)
  add_link_options(-fsanitize=address,undefined)
endif()
if(DSV32_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "DSV32_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang")
  endif()
  # Everything gets coverage instrumentation and ASan; only the harnesses
  # link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  # The harnesses never reach the matmul kernels: one Highway target is
  # enough to link them.
  add_compile_definitions(HWY_COMPILE_ONLY_STATIC)
  add_link_options(-fsanitize=address,undefined)
endif()

# The matmul and attention kernels (Highway, compiled once per CPU target)
# are built at -O1 without the sanitizers' instrumentation in the sanitizer
# build: at -O0 they made every test that runs a model several times
# slower, and instrumented at -O1 they take three times as long to compile.
# The Release pass tests them against their references on every target.
function(dsv32_kernels_outside_sanitizers)
  if(DSV32_SANITIZE)
    set_source_files_properties(${ARGN} DIRECTORY ${PROJECT_SOURCE_DIR}
                                PROPERTIES COMPILE_OPTIONS "-O1;-fno-sanitize=all")
  endif()
endfunction()
