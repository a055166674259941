# libFuzzer harnesses for the chat layer (included from this folder's
# CMakeLists.txt; built with -DDSV32_FUZZ=ON and clang).
#
#   cmake --build build-fuzz -j2 --target chat_fuzz output_parser_fuzz
#   mkdir -p build-fuzz/corpus/chat build-fuzz/corpus/output_parser
#   build-fuzz/bin/chat_fuzz -max_total_time=60 -dict=tests/fuzz/chat.dict \
#     build-fuzz/corpus/chat tests/chat/data/fuzz_seeds/chat
#   build-fuzz/bin/output_parser_fuzz -max_total_time=60 -dict=tests/fuzz/chat.dict \
#     build-fuzz/corpus/output_parser tests/chat/data/fuzz_seeds/output_parser
#
# - chat_fuzz: arbitrary bytes as a chat request; the encoder must return a
#   prompt or an error, never crash.
# - output_parser_fuzz: arbitrary completion text, fed whole and in pieces
#   the input chooses; both must give the same message, with deltas that are
#   whole UTF-8 whenever the input is.
foreach(fuzzer chat_fuzz output_parser_fuzz)
  add_executable(${fuzzer} ${CMAKE_CURRENT_LIST_DIR}/${fuzzer}.cc)
  target_link_libraries(${fuzzer} PRIVATE dsv32_text_layers)
  target_link_options(${fuzzer} PRIVATE -fsanitize=fuzzer)
endforeach()
