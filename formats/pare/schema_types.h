// Ties the schema's enums (schema.fbs, generated into schema_generated.h) to the one C++
// definition in runtime/types.h: the writer and the runtime loader both include this, so a
// change to either side that misses the other fails to compile, and files keep converting
// by value. Like schema_generated.h, it depends on FlatBuffers and runtime/types.h only.
#pragma once

#include <cstdint>
#include <type_traits>

#include "formats/pare/schema_generated.h"
#include "runtime/types.h"

namespace pare::format_schema {

template <typename Schema, typename Cpp>
constexpr bool same_value(Schema s, Cpp c) {
  return static_cast<int32_t>(s) == static_cast<int32_t>(c);
}

template <typename Array>
constexpr int32_t enumerator_count() {
  return static_cast<int32_t>(std::extent<std::remove_reference_t<Array>>::value);
}

static_assert(same_value(fb::DType::UNDEFINED, DType::kUndefined));
static_assert(same_value(fb::DType::FLOAT32, DType::kFloat32));
static_assert(same_value(fb::DType::UINT8, DType::kUInt8));
static_assert(same_value(fb::DType::INT8, DType::kInt8));
static_assert(same_value(fb::DType::INT32, DType::kInt32));
static_assert(same_value(fb::DType::INT64, DType::kInt64));
static_assert(same_value(fb::DType::BOOL, DType::kBool));
static_assert(same_value(fb::DType::FLOAT64, DType::kFloat64));
static_assert(enumerator_count<decltype(fb::EnumValuesDType())>() == kDTypeCount,
              "schema.fbs and runtime/types.h list different dtypes");

static_assert(same_value(fb::Activation::NONE, ActivationKind::kNone));
static_assert(same_value(fb::Activation::RELU, ActivationKind::kRelu));
static_assert(same_value(fb::Activation::CLIP, ActivationKind::kClip));
static_assert(same_value(fb::Activation::SIGMOID, ActivationKind::kSigmoid));
static_assert(same_value(fb::Activation::HARD_SIGMOID, ActivationKind::kHardSigmoid));
static_assert(same_value(fb::Activation::HARD_SWISH, ActivationKind::kHardSwish));
static_assert(same_value(fb::Activation::LEAKY_RELU, ActivationKind::kLeakyRelu));
static_assert(same_value(fb::Activation::SILU, ActivationKind::kSilu));
static_assert(enumerator_count<decltype(fb::EnumValuesActivation())>() == kActivationKindCount,
              "schema.fbs and runtime/types.h list different activations");

static_assert(same_value(fb::Encoding::DENSE, Encoding::kDense));
static_assert(same_value(fb::Encoding::SPARSE, Encoding::kSparse));
static_assert(same_value(fb::Encoding::PALETTE, Encoding::kPalette));
static_assert(enumerator_count<decltype(fb::EnumValuesEncoding())>() == 3,
              "schema.fbs and runtime/types.h list different encodings");

static_assert(same_value(fb::PaletteCoding::PACKED, PaletteCoding::kPacked));
static_assert(same_value(fb::PaletteCoding::HUFFMAN, PaletteCoding::kHuffman));
static_assert(enumerator_count<decltype(fb::EnumValuesPaletteCoding())>() == 2,
              "schema.fbs and runtime/types.h list different palette codings");

static_assert(same_value(fb::SparseFormat::BLOCK_ROWS, SparseFormat::kBlockRows));
static_assert(same_value(fb::SparseFormat::TWO_OF_FOUR, SparseFormat::kTwoOfFour));
static_assert(same_value(fb::SparseFormat::GAPS, SparseFormat::kGaps));
static_assert(enumerator_count<decltype(fb::EnumValuesSparseFormat())>() == 3,
              "schema.fbs and runtime/types.h list different sparse formats");

}  // namespace pare::format_schema
