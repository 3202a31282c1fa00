#include "calibration/npy.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "ir/status.h"

namespace pare::npy {

namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kHeaderAlign = 64;
// Recent numpy leaves room after the header so the first axis can grow in place; writing the
// same padding gives byte-identical files.
constexpr size_t kGrowthAxisDigits = 21;

struct TypeInfo {
  ElemType type;
  const char* name;
  size_t size;
  char kind;  // numpy kind character: 'f', 'i', 'u', 'b'
};

constexpr TypeInfo kTypes[] = {
    {ElemType::kFloat32, "float32", 4, 'f'}, {ElemType::kFloat64, "float64", 8, 'f'},
    {ElemType::kInt64, "int64", 8, 'i'},     {ElemType::kInt32, "int32", 4, 'i'},
    {ElemType::kUInt8, "uint8", 1, 'u'},     {ElemType::kInt8, "int8", 1, 'i'},
    {ElemType::kBool, "bool", 1, 'b'},
};

const TypeInfo& info(ElemType t) {
  for (const TypeInfo& ti : kTypes)
    if (ti.type == t) return ti;
  throw_internal("npy: unknown element type");
}

std::string descr_of(ElemType t) {
  const TypeInfo& ti = info(t);
  return fmt::format("{}{}{}", ti.size == 1 ? '|' : '<', ti.kind, ti.size);
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// Product of the dims times the element size, or throws when it does not fit in size_t.
size_t byte_count(const std::vector<int64_t>& shape, size_t elem_size, const std::string& name) {
  size_t n = elem_size;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<size_t>(d), &n))
      throw_invalid(fmt::format("{}: invalid shape {}", name, shape_str(shape)));
  }
  return n;
}

// --- The header: a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2,
// 3), }

struct PyValue {
  enum Kind { kString, kBool, kInt, kNone, kSequence, kDict } kind = kNone;
  std::string str;
  bool boolean = false;
  int64_t integer = 0;
  std::vector<PyValue> items;
  std::vector<std::pair<std::string, PyValue>> entries;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : text_(text), name_(name) {}

  PyValue parse() {
    PyValue v = value();
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the dict");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw_invalid(
        fmt::format("{}: malformed .npy header ({} at offset {}): {}", name_, what, pos_, text_));
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) fail(fmt::format("expected '{}'", c));
  }
  bool accept_word(const char* w) {
    size_t n = std::strlen(w);
    if (text_.compare(pos_, n, w) == 0) {
      pos_ += n;
      return true;
    }
    return false;
  }

  PyValue value() {
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end");
    char c = text_[pos_];
    PyValue v;
    if (c == '\'' || c == '"') {
      v.kind = PyValue::kString;
      v.str = string_literal();
    } else if (c == '{') {
      v.kind = PyValue::kDict;
      ++pos_;
      while (!accept('}')) {
        skip_space();
        if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
          fail("expected a string key");
        std::string key = string_literal();
        expect(':');
        v.entries.emplace_back(key, value());
        if (!accept(',')) {
          expect('}');
          break;
        }
      }
    } else if (c == '(' || c == '[') {
      char close = c == '(' ? ')' : ']';
      v.kind = PyValue::kSequence;
      ++pos_;
      while (!accept(close)) {
        v.items.push_back(value());
        if (!accept(',')) {
          expect(close);
          break;
        }
      }
    } else if (accept_word("True")) {
      v.kind = PyValue::kBool;
      v.boolean = true;
    } else if (accept_word("False")) {
      v.kind = PyValue::kBool;
    } else if (accept_word("None")) {
      v.kind = PyValue::kNone;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
      v.kind = PyValue::kInt;
      v.integer = integer();
    } else {
      fail("unexpected character");
    }
    return v;
  }

  std::string string_literal() {
    char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == std::string::npos) fail("unterminated string");
    std::string s = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }

  int64_t integer() {
    bool negative = text_[pos_] == '-';
    if (negative) ++pos_;
    if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_])))
      fail("expected a digit");
    int64_t v = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, text_[pos_] - '0', &v))
        fail("integer too large");
      ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 longs
    return negative ? -v : v;
  }

  const std::string& text_;
  const std::string& name_;
  size_t pos_ = 0;
};

ElemType type_from_descr(const std::string& descr, const std::string& name) {
  std::string supported =
      "supported: float32 '<f4', float64 '<f8', int64 '<i8', int32 '<i4', "
      "uint8 '|u1', int8 '|i1', bool '|b1'";
  if (descr.empty()) throw_invalid(fmt::format("{}: empty dtype; {}", name, supported));
  char order = descr[0];
  std::string code = descr;
  if (order == '<' || order == '>' || order == '|' || order == '=') code = descr.substr(1);
  for (const TypeInfo& ti : kTypes) {
    if (code != fmt::format("{}{}", ti.kind, ti.size)) continue;
    // A byte order means nothing for one-byte types; wider types must be little endian.
    if (ti.size > 1 && order != '<')
      throw_invalid(fmt::format(
          "{}: unsupported dtype '{}' ({}); convert it with "
          "arr.astype('<{}') or arr.astype(np.{})",
          name, descr, order == '>' ? "big endian" : "byte order not given", code, ti.name));
    return ti.type;
  }
  std::string what = code == "O" ? "object arrays cannot be read" : supported;
  throw_invalid(fmt::format("{}: unsupported dtype '{}'; {}", name, descr, what));
}

uint16_t get_u16(const std::string& b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) | static_cast<uint8_t>(b[at + 1]) << 8);
}
uint32_t get_u32(const std::string& b, size_t at) {
  return static_cast<uint32_t>(get_u16(b, at)) | static_cast<uint32_t>(get_u16(b, at + 2)) << 16;
}
uint64_t get_u64(const std::string& b, size_t at) {
  return static_cast<uint64_t>(get_u32(b, at)) | static_cast<uint64_t>(get_u32(b, at + 4)) << 32;
}
void put_u16(std::string& b, uint16_t v) {
  b.push_back(static_cast<char>(v & 0xff));
  b.push_back(static_cast<char>(v >> 8));
}
void put_u32(std::string& b, uint32_t v) {
  put_u16(b, static_cast<uint16_t>(v & 0xffff));
  put_u16(b, static_cast<uint16_t>(v >> 16));
}

std::string read_whole_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw_invalid(fmt::format("cannot read {}: it is a directory", path));
  std::ifstream f(path, std::ios::binary);
  if (!f) throw_invalid(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw_invalid(fmt::format("cannot read {}", path));
  return ss.str();
}

// Writes through a temporary file in the same folder and a rename, so that readers see
// either the old file or the complete new one.
void write_file_atomic(const std::string& path, const std::string& bytes) {
  static std::atomic<unsigned> counter{0};
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    tmp = fmt::format("{}.tmp.{}.{}", path, getpid(), counter++);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) throw_invalid(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  int err = done == bytes.size() ? 0 : errno;
  if (!err && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (!err && std::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    throw_invalid(fmt::format("cannot write {}: {}", path, std::strerror(err ? err : EIO)));
  }
}

// --- zip archives (the .npz container) ---

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndOfCentralDirSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEndOfCentralDirLen = 22;
constexpr uint16_t kZip64ExtraId = 0x0001;
// A deflate stream cannot expand data more than about 1032:1; a larger claimed size means
// a corrupt header, caught before allocating.
constexpr uint64_t kMaxDeflateRatio = 1032;

struct ZipEntry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  uint64_t local_offset = 0;
};

class ZipReader {
 public:
  ZipReader(const std::string& bytes, const std::string& path) : b_(bytes), path_(path) {}

  std::vector<ZipEntry> entries() {
    size_t eocd = find_end_of_central_dir();
    uint64_t count = get_u16(b_, eocd + 10);
    uint64_t dir_size = get_u32(b_, eocd + 12);
    uint64_t dir_offset = get_u32(b_, eocd + 16);
    if (get_u16(b_, eocd + 4) != 0 || get_u16(b_, eocd + 6) != 0)
      throw_invalid(fmt::format("{}: multi-volume zip archives are not supported", path_));
    if (count == 0xffff || dir_size == 0xffffffff || dir_offset == 0xffffffff) {
      if (eocd < 20 || get_u32(b_, eocd - 20) != kZip64LocatorSig)
        corrupt("ZIP64 end-of-central-directory locator missing");
      uint64_t z64 = get_u64(b_, eocd - 20 + 8);
      need(z64, 56, "ZIP64 end of central directory");
      if (get_u32(b_, z64) != kZip64EndSig) corrupt("bad ZIP64 end-of-central-directory signature");
      count = get_u64(b_, z64 + 32);
      dir_size = get_u64(b_, z64 + 40);
      dir_offset = get_u64(b_, z64 + 48);
    }
    need(dir_offset, dir_size, "central directory");
    std::vector<ZipEntry> out;
    size_t p = dir_offset;
    for (uint64_t i = 0; i < count; ++i) {
      need(p, 46, "central directory entry");
      if (get_u32(b_, p) != kCentralHeaderSig) corrupt("bad central directory entry signature");
      ZipEntry e;
      e.flags = get_u16(b_, p + 8);
      e.method = get_u16(b_, p + 10);
      e.crc = get_u32(b_, p + 16);
      e.compressed_size = get_u32(b_, p + 20);
      e.size = get_u32(b_, p + 24);
      size_t name_len = get_u16(b_, p + 28), extra_len = get_u16(b_, p + 30),
             comment_len = get_u16(b_, p + 32);
      e.local_offset = get_u32(b_, p + 42);
      need(p + 46, name_len + extra_len + comment_len, "central directory entry");
      e.name = b_.substr(p + 46, name_len);
      read_zip64_extra(p + 46 + name_len, extra_len, &e);
      out.push_back(std::move(e));
      p += 46 + name_len + extra_len + comment_len;
    }
    return out;
  }

  std::string contents(const ZipEntry& e) {
    std::string where = fmt::format("member '{}'", e.name);
    if (e.flags & 1) throw_invalid(fmt::format("{}: {} is encrypted", path_, where));
    need(e.local_offset, 30, where);
    if (get_u32(b_, e.local_offset) != kLocalHeaderSig)
      corrupt(fmt::format("bad local header signature of {}", where));
    uint64_t data =
        e.local_offset + 30 + get_u16(b_, e.local_offset + 26) + get_u16(b_, e.local_offset + 28);
    need(data, e.compressed_size, where);
    std::string out;
    if (e.method == 0) {
      if (e.size != e.compressed_size) corrupt(fmt::format("sizes of stored {} disagree", where));
      out = b_.substr(data, e.compressed_size);
    } else if (e.method == 8) {
      out = inflate_raw(data, e, where);
    } else {
      throw_invalid(
          fmt::format("{}: {} uses compression method {}; only stored (0) and deflated "
                      "(8) members are supported",
                      path_, where, e.method));
    }
    uint32_t crc = static_cast<uint32_t>(
        crc32_z(crc32_z(0, nullptr, 0), reinterpret_cast<const Bytef*>(out.data()), out.size()));
    if (crc != e.crc)
      corrupt(
          fmt::format("CRC mismatch in {} (stored {:08x}, computed {:08x})", where, e.crc, crc));
    return out;
  }

 private:
  [[noreturn]] void corrupt(const std::string& what) {
    throw_invalid(fmt::format("{}: not a valid .npz (zip) file: {}", path_, what));
  }
  // Bytes [at, at + n) must lie inside the file.
  void need(uint64_t at, uint64_t n, const std::string& what) {
    if (at > b_.size() || n > b_.size() - at)
      throw_invalid(
          fmt::format("{}: truncated .npz (zip) file: {} at offset {} needs {} bytes, "
                      "the file has {}",
                      path_, what, at, n, b_.size()));
  }

  size_t find_end_of_central_dir() {
    if (b_.size() < kEndOfCentralDirLen) corrupt("too short for a zip archive");
    size_t last = b_.size() - kEndOfCentralDirLen;
    size_t first = last > 0xffff ? last - 0xffff : 0;  // the comment is at most 64 KiB
    for (size_t p = last + 1; p-- > first;) {
      if (get_u32(b_, p) == kEndOfCentralDirSig &&
          p + kEndOfCentralDirLen + get_u16(b_, p + 20) <= b_.size())
        return p;
    }
    corrupt("no end-of-central-directory record (not a zip archive, or truncated)");
  }

  // ZIP64 extra field: 64-bit values for exactly those header fields that hold 0xffffffff.
  void read_zip64_extra(size_t at, size_t len, ZipEntry* e) {
    size_t end = at + len;
    while (at + 4 <= end) {
      uint16_t id = get_u16(b_, at), size = get_u16(b_, at + 2);
      size_t field = at + 4;
      if (field + size > end) corrupt(fmt::format("bad extra field of member '{}'", e->name));
      if (id == kZip64ExtraId) {
        size_t q = field;
        for (uint64_t* v : {&e->size, &e->compressed_size, &e->local_offset}) {
          if (*v != 0xffffffff) continue;
          if (q + 8 > field + size)
            corrupt(fmt::format("short ZIP64 field of member '{}'", e->name));
          *v = get_u64(b_, q);
          q += 8;
        }
      }
      at = field + size;
    }
  }

  std::string inflate_raw(size_t data, const ZipEntry& e, const std::string& where) {
    if (e.size / kMaxDeflateRatio > e.compressed_size)
      corrupt(
          fmt::format("{} claims {} bytes from {} compressed", where, e.size, e.compressed_size));
    std::string out(e.size, '\0');
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw_internal("zlib: inflateInit2 failed");
    const Bytef* in = reinterpret_cast<const Bytef*>(b_.data() + data);
    uint64_t in_left = e.compressed_size;
    int rc = Z_OK;
    // avail_in/avail_out are 32-bit: members larger than 4 GiB go through in pieces. The
    // loop ends at the end of the stream, on bad data, or (Z_BUF_ERROR) when the input
    // runs out or the output would exceed the size the directory gives.
    while (rc == Z_OK) {
      if (zs.avail_in == 0 && in_left > 0) {
        zs.next_in = const_cast<Bytef*>(in);
        zs.avail_in = static_cast<uInt>(std::min<uint64_t>(in_left, UINT_MAX));
        in += zs.avail_in;
        in_left -= zs.avail_in;
      }
      zs.next_out = reinterpret_cast<Bytef*>(out.data()) + zs.total_out;
      zs.avail_out = static_cast<uInt>(std::min<uint64_t>(e.size - zs.total_out, UINT_MAX));
      rc = inflate(&zs, Z_NO_FLUSH);
    }
    uint64_t produced = zs.total_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || produced != e.size)
      corrupt(fmt::format("cannot inflate {} ({}; {} of {} bytes)", where,
                          rc == Z_DATA_ERROR ? "bad deflate data" : "size mismatch", produced,
                          e.size));
    return out;
  }

  const std::string& b_;
  const std::string& path_;
};

}  // namespace

int64_t Array::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

size_t Array::elem_size() const { return info(type).size; }

const char* elem_type_name(ElemType t) { return info(t).name; }

Array parse_npy(const std::string& bytes, const std::string& name) {
  if (bytes.size() < kMagicLen + 4 || bytes.compare(0, kMagicLen, kMagic, kMagicLen) != 0)
    throw_invalid(fmt::format("{}: not a .npy file (no \\x93NUMPY magic)", name));
  int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = get_u16(bytes, 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw_invalid(fmt::format("{}: truncated .npy header", name));
    header_len = get_u32(bytes, 8);
    header_start = 12;
  } else {
    throw_invalid(fmt::format("{}: unsupported .npy format version {}.{}", name, major,
                              static_cast<int>(static_cast<uint8_t>(bytes[7]))));
  }
  if (header_len > bytes.size() - header_start)
    throw_invalid(fmt::format("{}: truncated .npy header ({} bytes announced, {} present)", name,
                              header_len, bytes.size() - header_start));
  std::string header = bytes.substr(header_start, header_len);
  PyValue dict = HeaderParser(header, name).parse();
  if (dict.kind != PyValue::kDict)
    throw_invalid(fmt::format("{}: malformed .npy header (not a dict): {}", name, header));
  const PyValue *descr = nullptr, *fortran = nullptr, *shape = nullptr;
  for (const auto& [key, v] : dict.entries) {
    if (key == "descr")
      descr = &v;
    else if (key == "fortran_order")
      fortran = &v;
    else if (key == "shape")
      shape = &v;
  }
  if (!descr || !fortran || !shape)
    throw_invalid(
        fmt::format("{}: malformed .npy header (needs 'descr', 'fortran_order' and "
                    "'shape'): {}",
                    name, header));
  if (descr->kind != PyValue::kString)
    throw_invalid(fmt::format("{}: unsupported dtype (structured arrays cannot be read)", name));
  Array a;
  a.type = type_from_descr(descr->str, name);
  if (fortran->kind != PyValue::kBool)
    throw_invalid(fmt::format("{}: malformed .npy header ('fortran_order' is not a bool)", name));
  if (shape->kind != PyValue::kSequence)
    throw_invalid(fmt::format("{}: malformed .npy header ('shape' is not a tuple)", name));
  for (const PyValue& d : shape->items) {
    if (d.kind != PyValue::kInt || d.integer < 0)
      throw_invalid(fmt::format("{}: malformed .npy header (bad 'shape'): {}", name, header));
    a.shape.push_back(d.integer);
  }
  // A Fortran-ordered array of rank < 2 has the same layout as a C-ordered one.
  if (fortran->boolean && a.shape.size() > 1)
    throw_invalid(
        fmt::format("{}: Fortran-ordered arrays are not supported; save it with "
                    "np.save(path, np.ascontiguousarray(arr))",
                    name));
  size_t data_bytes = byte_count(a.shape, a.elem_size(), name);
  size_t data_start = header_start + header_len;
  size_t available = bytes.size() - data_start;
  if (available != data_bytes)
    throw_invalid(fmt::format("{}: {}: {} {} needs {} bytes of data, the file has {}", name,
                              available < data_bytes ? "truncated" : "unexpected trailing bytes",
                              elem_type_name(a.type), shape_str(a.shape), data_bytes, available));
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(data_start), bytes.end());
  return a;
}

Array read_npy(const std::string& path) { return parse_npy(read_whole_file(path), path); }

std::string serialize_npy(const Array& a) {
  size_t data_bytes = byte_count(a.shape, a.elem_size(), "array");
  if (a.data.size() != data_bytes)
    throw_internal(fmt::format("npy: array {} {} holds {} bytes, expected {}",
                               elem_type_name(a.type), shape_str(a.shape), a.data.size(),
                               data_bytes));
  // The same header numpy writes: sorted keys, Python tuple syntax, padding to 64 bytes.
  std::string dims;
  for (size_t i = 0; i < a.shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(a.shape[i]);
  if (a.shape.size() == 1) dims += ",";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}",
                                   descr_of(a.type), dims);
  if (!a.shape.empty()) header.append(kGrowthAxisDigits - std::to_string(a.shape[0]).size(), ' ');
  bool v1 = header.size() + 1 + kHeaderAlign <= 0xffff;
  size_t prefix = kMagicLen + 2 + (v1 ? 2 : 4);
  size_t pad = kHeaderAlign - (prefix + header.size() + 1) % kHeaderAlign;
  header.append(pad, ' ');
  header.push_back('\n');

  std::string out(kMagic, kMagicLen);
  out.push_back(static_cast<char>(v1 ? 1 : 2));
  out.push_back(0);
  if (v1)
    put_u16(out, static_cast<uint16_t>(header.size()));
  else
    put_u32(out, static_cast<uint32_t>(header.size()));
  out += header;
  out.append(reinterpret_cast<const char*>(a.data.data()), a.data.size());
  return out;
}

void write_npy(const std::string& path, const Array& a) {
  write_file_atomic(path, serialize_npy(a));
}

std::vector<std::pair<std::string, Array>> read_npz(const std::string& path) {
  return parse_npz(read_whole_file(path), path);
}

std::vector<std::pair<std::string, Array>> parse_npz(const std::string& bytes, const std::string& path) {
  ZipReader zip(bytes, path);
  std::vector<std::pair<std::string, Array>> out;
  for (const ZipEntry& e : zip.entries()) {
    std::string key = e.name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    out.emplace_back(key, parse_npy(zip.contents(e), fmt::format("{}:{}", path, e.name)));
  }
  return out;
}

void write_npz(const std::string& path, const std::vector<std::pair<std::string, Array>>& arrays) {
  // Stored (uncompressed) members with fixed timestamps, so the same arrays give the same
  // bytes. Archives past the 32-bit zip limits would need ZIP64 records, which this
  // writer does not produce.
  constexpr uint16_t kVersion = 20;                // 2.0: the oldest that readers accept
  constexpr uint16_t kMadeByUnix = 3 << 8;         // external attributes hold Unix permissions
  constexpr uint16_t kDosDate1980 = (1 << 5) | 1;  // 1980-01-01, 00:00:00
  constexpr uint32_t kRegularFile644 = 0100644u << 16;
  std::string out, dir;
  std::set<std::string> seen;
  for (const auto& [key, array] : arrays) {
    std::string name = key + ".npy";
    if (key.empty() || name.size() > 0xffff || !seen.insert(name).second)
      throw_invalid(fmt::format("{}: bad or duplicate array name '{}'", path, key));
    std::string data = serialize_npy(array);
    uint32_t crc = static_cast<uint32_t>(
        crc32_z(crc32_z(0, nullptr, 0), reinterpret_cast<const Bytef*>(data.data()), data.size()));
    if (data.size() >= 0xffffffffu || out.size() >= 0xffffffffu)
      throw_invalid(
          fmt::format("{}: archive exceeds 4 GiB, which .npz writing does not support", path));
    uint32_t offset = static_cast<uint32_t>(out.size());
    uint32_t size = static_cast<uint32_t>(data.size());
    auto common = [&](std::string& b) {
      put_u16(b, kVersion);  // version needed
      put_u16(b, 0);         // flags
      put_u16(b, 0);         // method: stored
      put_u16(b, 0);         // time
      put_u16(b, kDosDate1980);
      put_u32(b, crc);
      put_u32(b, size);  // compressed
      put_u32(b, size);
      put_u16(b, static_cast<uint16_t>(name.size()));
      put_u16(b, 0);  // extra field length
    };
    put_u32(out, kLocalHeaderSig);
    common(out);
    out += name;
    out += data;

    put_u32(dir, kCentralHeaderSig);
    put_u16(dir, kMadeByUnix | kVersion);
    common(dir);
    put_u16(dir, 0);  // comment length
    put_u16(dir, 0);  // disk number
    put_u16(dir, 0);  // internal attributes
    put_u32(dir, kRegularFile644);
    put_u32(dir, offset);
    dir += name;
  }
  if (arrays.size() >= 0xffff || out.size() + dir.size() >= 0xffffffffu)
    throw_invalid(
        fmt::format("{}: archive exceeds the zip limits (4 GiB, 65535 members) that "
                    ".npz writing supports",
                    path));
  uint32_t dir_offset = static_cast<uint32_t>(out.size());
  out += dir;
  put_u32(out, kEndOfCentralDirSig);
  put_u16(out, 0);  // this disk
  put_u16(out, 0);  // disk with the central directory
  put_u16(out, static_cast<uint16_t>(arrays.size()));
  put_u16(out, static_cast<uint16_t>(arrays.size()));
  put_u32(out, static_cast<uint32_t>(dir.size()));
  put_u32(out, dir_offset);
  put_u16(out, 0);  // comment length
  write_file_atomic(path, out);
}

}  // namespace pare::npy
