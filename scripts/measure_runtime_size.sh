#!/usr/bin/env bash
# The bytes the runtime adds to an app (docs/embedding.md, "Size"): builds scripts/size's
# minimal app (load a .pare, run it) for x86-64 and, cross-compiled, for aarch64, linked
# statically against the full runtime and against one with only the ops and kernel families
# `pare ops` lists for MobileNetV2 int8, both again with the SIMD kernels of one ISA only
# (-DPARE_ISAS=avx2 / neon), and the same app without pare; all stripped, --gc-sections. Needs build/tools/pare
# (scripts/build.sh) to make the int8 model and its op list. Runs the aarch64 app under qemu.
set -euo pipefail
cd "$(dirname "$0")/.."
# Ninja (where the folder is new) keeps both cores busy across targets; Make waits for each
# target's libraries before compiling its sources.
export CMAKE_GENERATOR=${CMAKE_GENERATOR:-Ninja}
work=build-size
mkdir -p "$work"
model=$work/mobilenet_v2_int8.pare
if [ ! -f "$model" ]; then
  build/tools/pare compress testdata/models/fmnist_mobilenet_v2.onnx -o "$model" \
    --calib testdata/data/fmnist_calib_500.npy --quiet >/dev/null
fi
build/tools/pare ops "$model" >"$work/mobilenet_v2_int8.ops"
echo "MobileNetV2 int8 ops and kernel families: $(tr '\n' ' ' <"$work/mobilenet_v2_int8.ops")"

size_of() { stat -c %s "$1"; }
# configure_and_build DIR [CMAKE ARGS...]: the size apps of one configuration.
configure_and_build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DPARE_BUILD_TOOLCHAIN=OFF -DPARE_BUILD_TESTS=OFF \
    -DPARE_BUILD_BENCHMARKS=OFF -DPARE_SIZE_OPS="$PWD/$work/mobilenet_v2_int8.ops" "$@" >"$dir.log" 2>&1
  cmake --build "$dir" -j2 --target size_app_full size_app_selected size_app_none >>"$dir.log" 2>&1 ||
    { tail -n 40 "$dir.log"; exit 1; }
}
for arch in x86-64 aarch64; do
  dir=$work/$arch
  args=()
  run=()
  one_isa=avx2
  if [ "$arch" = aarch64 ]; then
    args+=(-DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake")
    run=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
    one_isa=neon
  fi
  configure_and_build "$dir" "${args[@]}"
  # The same with SIMD kernels for one ISA only.
  configure_and_build "$dir-$one_isa" "${args[@]}" -DPARE_ISAS=$one_isa
  none=$(size_of "$dir/scripts/size/size_app_none")
  full=$(size_of "$dir/scripts/size/size_app_full")
  selected=$(size_of "$dir/scripts/size/size_app_selected")
  one_isa_full=$(size_of "$dir-$one_isa/scripts/size/size_app_full")
  one_isa_selected=$(size_of "$dir-$one_isa/scripts/size/size_app_selected")
  # Every app must run the model.
  for app in "$dir"/scripts/size/size_app_{full,selected} "$dir-$one_isa"/scripts/size/size_app_{full,selected}; do
    "${run[@]}" "$app" "$model" >/dev/null
  done
  echo "$arch: app without pare $none bytes; the runtime adds $((full - none)) bytes (all ops)," \
       "$((selected - none)) bytes (MobileNetV2 int8's ops and kernel families);" \
       "with $one_isa kernels only: $((one_isa_full - none)) and $((one_isa_selected - none)) bytes"
done
