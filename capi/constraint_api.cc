// Constrained decoding through the C API, for hosts with their own sampling.
#include <memory>
#include <string>

#include "capi_internal.h"
#include "structured/token_constraint.h"

struct dsv32_constraint {
  dsv32::structured::TokenConstraint constraint;
};

using dsv32::capi::FromStatus;
using dsv32::capi::Guard;
using dsv32::capi::SetError;

extern "C" {

dsv32_status dsv32_constraint_create(const dsv32_tokenizer* tokenizer, int32_t vocab_size,
                                     const char* json_schema, const char* regex,
                                     const int32_t* end_tokens, size_t n_end_tokens,
                                     dsv32_constraint** out) {
  return Guard([&] {
    using dsv32::structured::TokenConstraint;
    using dsv32::structured::TokenGrammar;
    if (!out) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_constraint_create: out is NULL");
    *out = nullptr;
    if (!tokenizer || (!end_tokens && n_end_tokens))
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_constraint_create: NULL argument");
    if ((json_schema != nullptr) == (regex != nullptr))
      return SetError(DSV32_ERR_INVALID_ARGUMENT,
                      "dsv32_constraint_create: give exactly one of json_schema and regex");
    if (vocab_size < 0)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_constraint_create: vocab_size < 0");
    if (vocab_size == 0) vocab_size = tokenizer->tokenizer->id_limit();
    auto vocab = dsv32::capi::Vocabulary(*tokenizer, vocab_size);
    if (!vocab.ok()) return FromStatus(vocab.status());
    auto grammar = json_schema ? TokenGrammar::FromJsonSchema(json_schema, vocab.value())
                               : TokenGrammar::FromRegex(regex, vocab.value());
    if (!grammar.ok())
      return FromStatus(grammar.status().WithContext(std::string("dsv32_constraint_create: ") +
                                                     (json_schema ? "json_schema" : "regex")));
    auto c = TokenConstraint::Create(std::move(grammar).value(),
                                     std::vector<int32_t>(end_tokens, end_tokens + n_end_tokens));
    if (!c.ok()) return FromStatus(c.status().WithContext("dsv32_constraint_create"));
    *out = new dsv32_constraint{std::move(c).value()};
    return DSV32_OK;
  });
}

dsv32_status dsv32_constraint_clone(const dsv32_constraint* constraint, dsv32_constraint** out) {
  return Guard([&] {
    if (!constraint || !out)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_constraint_clone: NULL argument");
    *out = new dsv32_constraint{constraint->constraint};
    return DSV32_OK;
  });
}

void dsv32_constraint_free(dsv32_constraint* constraint) { delete constraint; }

dsv32_status dsv32_constraint_mask_logits(const dsv32_constraint* constraint, float* logits,
                                          size_t n_logits) {
  return Guard([&] {
    if (!constraint || (!logits && n_logits))
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_constraint_mask_logits: NULL argument");
    constraint->constraint.Mask(std::span<float>(logits, n_logits));
    return DSV32_OK;
  });
}

dsv32_status dsv32_constraint_advance(dsv32_constraint* constraint, int32_t token) {
  return Guard([&] {
    if (!constraint)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_constraint_advance: constraint is NULL");
    return FromStatus(constraint->constraint.Advance(token));
  });
}

dsv32_status dsv32_constraint_state(const dsv32_constraint* constraint, int32_t* complete,
                                    int32_t* finished) {
  return Guard([&] {
    if (!constraint)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_constraint_state: constraint is NULL");
    if (complete) *complete = constraint->constraint.IsComplete() ? 1 : 0;
    if (finished) *finished = constraint->constraint.IsFinished() ? 1 : 0;
    return DSV32_OK;
  });
}

}  // extern "C"
