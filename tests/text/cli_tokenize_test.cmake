# Runs `dsv32 tokenize` and `dsv32 detokenize` on small inputs and checks
# their output. Invoked by ctest as:
#   cmake -DCLI=<dsv32> -DTOKENIZER=<dir> -DWORK=<scratch dir> -P cli_tokenize_test.cmake

file(MAKE_DIRECTORY "${WORK}")

# run(<name> <stdin text> <expected rc 0|fail> <expected stdout> args...)
function(run name input expect_rc expected)
  file(WRITE "${WORK}/${name}.in" "${input}")
  execute_process(COMMAND "${CLI}" ${ARGN}
                  INPUT_FILE "${WORK}/${name}.in"
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(expect_rc STREQUAL "0")
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${name}: exit ${rc}, stderr: ${err}")
    endif()
    if(NOT out STREQUAL expected)
      message(FATAL_ERROR "${name}: got [${out}], want [${expected}]")
    endif()
  else()
    if(rc EQUAL 0)
      message(FATAL_ERROR "${name}: should have failed, printed [${out}]")
    endif()
    # One line on stderr that says what went wrong.
    string(REGEX MATCHALL "\n" newlines "${err}")
    list(LENGTH newlines lines)
    if(NOT lines EQUAL 1 OR NOT err MATCHES "error: .*${expected}")
      message(FATAL_ERROR "${name}: stderr should be one line mentioning '${expected}', got [${err}]")
    endif()
  endif()
endfunction()

run(plain "Hello world" 0 "19923 2058\n" tokenize --tokenizer "${TOKENIZER}")
run(bos_model_dir "Hello world" 0 "0 19923 2058\n" tokenize --model "${TOKENIZER}" --bos)
run(special "<｜User｜>hi" 0 "128803 6366\n" tokenize --tokenizer "${TOKENIZER}")
run(empty "" 0 "\n" tokenize --tokenizer "${TOKENIZER}")
run(back " 0 19923\n 2058 \n" 0 "<｜begin▁of▁sentence｜>Hello world"
    detokenize --tokenizer "${TOKENIZER}")
run(back_skip "0 19923 2058 1" 0 "Hello world"
    detokenize --tokenizer "${TOKENIZER}" --skip-special-tokens)
run(bad_id "19923 12x" fail "12x" detokenize --tokenizer "${TOKENIZER}")
run(big_id "19923 999999" fail "999999" detokenize --tokenizer "${TOKENIZER}")
run(no_dir "x" fail "tokenizer.json" tokenize --tokenizer "${WORK}/missing")
run(no_option "x" fail "--tokenizer" tokenize)
