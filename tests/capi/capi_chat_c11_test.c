/* The chat half of the C API from plain C11: prompt encoding and the
 * streaming output parser. Needs no model. */
#include <stdio.h>
#include <string.h>

#include "c_check.h"
#include "dsv32/dsv32.h"


static const char kBos[] = "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>";
static const char kEos[] = "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>";

int main(void) {
  char* prompt = NULL;
  size_t length = 0;
  CHECK(dsv32_chat_encode("{\"messages\": [{\"role\": \"user\", \"content\": \"hi there\"}]}",
                          &prompt, &length) == DSV32_OK);
  if (prompt) {
    CHECK(strlen(prompt) == length);
    CHECK(strncmp(prompt, kBos, strlen(kBos)) == 0);
    CHECK(strstr(prompt, "hi there") != NULL);
    CHECK(strcmp(prompt + length - strlen("</think>"), "</think>") == 0);
  }
  dsv32_string_free(prompt);
  dsv32_string_free(NULL);
  prompt = (char*)1;
  CHECK(dsv32_chat_encode("{\"messages\": [{\"role\": \"wizard\"}]}", &prompt, NULL) ==
        DSV32_ERR_INVALID_ARGUMENT);
  CHECK(prompt == NULL && strstr(dsv32_last_error(), "messages[0]") != NULL);
  CHECK(dsv32_chat_encode("not json", &prompt, NULL) != DSV32_OK);
  CHECK(dsv32_chat_encode(NULL, &prompt, NULL) == DSV32_ERR_INVALID_ARGUMENT);

  dsv32_chat_parser_params pp = dsv32_chat_parser_default_params();
  CHECK(pp.struct_size == sizeof pp && pp.thinking == 0);
  pp.thinking = 1;
  dsv32_chat_parser* parser = NULL;
  CHECK(dsv32_chat_parser_create(&pp, &parser) == DSV32_OK);
  if (!parser) return 1;
  /* Pieces that split the markers. */
  const char* pieces[] = {"let me th", "ink</th", "ink>Hello", ", world", kEos};
  for (int i = 0; i < 5; ++i)
    CHECK(dsv32_chat_parser_feed(parser, pieces[i], strlen(pieces[i])) == DSV32_OK);
  CHECK(dsv32_chat_parser_finish(parser) == DSV32_OK);
  char reasoning[64] = "", content[64] = "", finish[16] = "";
  int32_t has = 0;
  dsv32_chat_event e;
  memset(&e, 0, sizeof e);
  e.struct_size = sizeof e;
  int events = 0;
  while (dsv32_chat_parser_next(parser, &e, &has) == DSV32_OK && has) {
    ++events;
    CHECK(strlen(e.text) == e.text_length);
    if (e.type == DSV32_CHAT_REASONING_DELTA) strncat(reasoning, e.text, 30);
    if (e.type == DSV32_CHAT_CONTENT_DELTA) strncat(content, e.text, 30);
    if (e.type == DSV32_CHAT_FINISH) strncat(finish, e.text, 8);
    CHECK(e.type != DSV32_CHAT_ERROR);
  }
  CHECK(events >= 3);
  CHECK(strcmp(reasoning, "let me think") == 0);
  CHECK(strcmp(content, "Hello, world") == 0);
  CHECK(strcmp(finish, "stop") == 0);
  CHECK(dsv32_chat_parser_feed(NULL, "x", 1) == DSV32_ERR_INVALID_ARGUMENT);
  CHECK(dsv32_chat_parser_next(parser, NULL, &has) == DSV32_ERR_INVALID_ARGUMENT);
  dsv32_chat_parser_free(parser);
  dsv32_chat_parser_free(NULL);

  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
