// The HTML report of `pare check` (check/check_html.h): its content, escaping and
// determinism, then the page as a real headless browser renders it (Debian's chromium).

#include "check/check_html.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "ir/status.h"
#include "tests/support/test_util.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wunused-function"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace pare::check {
namespace {

using test::TempDir;

const char* kHostileName = "conv<script>alert(\"x&y\")</script>'q";
const char* kHostileEscaped = "conv&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;q";

// 20 layers (a Conv or Gemm with a weight, then a Relu), layer 7 not aligned, layer 3 with a
// hostile name; two budgets, the second failing.
CheckResult sample_result() {
  CheckResult r;
  r.teacher = "models/net.onnx";
  r.student = "out/net.pare";
  r.data = "calib.npy";
  r.labels = "labels.npy";
  r.samples = 500;
  r.teacher_bytes = 1'200'000;
  r.student_bytes = 160'000;
  r.has_labels = true;
  r.teacher_top1 = 91.2, r.student_top1 = 90.6, r.top1_drop = 0.6;
  r.agreement = 97.4, r.kl = 0.0123, r.cosine = 0.9987, r.snr_db = 24.5;
  Budget drop, agreement;
  drop.name = "max-top1-drop", drop.limit = 1.0, drop.value = 0.6, drop.met = true;
  agreement.name = "min-agreement", agreement.limit = 0.99, agreement.value = 0.974, agreement.met = false;
  r.budgets = {drop, agreement};
  r.budgets_met = false;
  for (int i = 0; i < 20; ++i) {
    LayerError l;
    l.node = i == 3 ? kHostileName : "layer_" + std::to_string(i);
    l.op = i % 2 == 0 ? (i < 16 ? "Conv" : "Gemm") : "Relu";
    l.aligned = i != 7;
    if (l.aligned) {
      l.teacher_tensor = "t" + std::to_string(i);
      l.snr_db = 40.0 - 1.5 * i + (i == 12 ? -25.0 : 0.0);
      l.cosine = 1.0 - 1e-4 * i;
    } else {
      l.why_not_aligned = "fused into the previous node";
    }
    if (i % 2 == 0) {
      l.encoding = i % 4 == 0 ? "palette4_per_row_int8" : "sparse_gaps";
      l.bytes_dense = 4096 << (i / 4);
      l.bytes_stored = l.bytes_dense / (i % 4 == 0 ? 8 : 3);
    }
    r.layers.push_back(l);
  }
  return r;
}

// sample_result() as pare compress reports it: budgets met with a margin after back-off.
CheckResult backoff_result() {
  CheckResult r = sample_result();
  r.margin = 1;
  for (Budget& b : r.budgets) b.se = 0.2, b.bound = b.value + 0.2, b.met = true;
  r.budgets_met = true;
  BackoffSummary b;
  b.outcome = "the budgets hold after 2 relaxations in 1 round";
  b.pipeline_given = "cluster(bits=2),quantize";
  b.pipeline_run = "cluster(bits=2,layer_bits=layer_4:3),quantize(exclude=" + std::string(kHostileName) + ")";
  b.bytes_given = 150'000;
  b.budgets_given = r.budgets;
  b.budgets_given[0].value = 4.5, b.budgets_given[0].met = false;
  b.relaxations = {{"layer_4", "bits", "2 bits", "3 bits", 1, 1, 0.05, 0.02, 4096},
                   {kHostileName, "int8", "int8", "float32", 1, 2, 0.05, 0.04, 6000}};
  b.rounds = 1, b.builds = 4, b.proxies = 12, b.seconds = 9.5;
  r.backoff = b;
  r.layers[4].relaxed = "palette >= 3 bits";
  r.layers[3].relaxed = "float32";
  return r;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// A layer's name as it appears in the page, escaped as render_html escapes it.
std::string escaped_name(const LayerError& l) { return l.node == kHostileName ? kHostileEscaped : l.node; }

TEST(CheckHtml, RendersVerdictBudgetsLayersAndCharts) {
  const CheckResult r = sample_result();
  const std::string page = render_html(r);
  EXPECT_NE(page.find("<span class=\"verdict fail\">FAIL</span>"), std::string::npos);
  EXPECT_EQ(page.find(">PASS<"), std::string::npos);
  EXPECT_NE(page.find("1 of 2 budgets met"), std::string::npos);
  for (const Budget& b : r.budgets) EXPECT_NE(page.find("<code>" + b.name + "</code>"), std::string::npos) << b.name;
  EXPECT_NE(page.find("NOT MET"), std::string::npos);
  EXPECT_NE(page.find("7.50\u00D7 smaller"), std::string::npos);
  EXPECT_NE(page.find("90.60 %"), std::string::npos);

  // Every name in the table, escaped; the hostile one never raw.
  for (const LayerError& l : r.layers)
    EXPECT_NE(page.find("<td><code>" + escaped_name(l) + "</code></td>"), std::string::npos) << l.node;
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("\"x&y\""), std::string::npos);

  // Two charts: a bar per aligned layer and a gap mark for the unaligned one; a dense and a
  // stored bar per layer with a weight; the worst layer (12) labelled.
  EXPECT_EQ(count(page, "<svg "), 2u);
  EXPECT_EQ(count(page, "<rect class=\"snr-bar"), 19u);
  EXPECT_EQ(count(page, "class=\"gap-mark\""), 1u);
  EXPECT_EQ(count(page, "<rect class=\"bytes-dense\""), 10u);
  EXPECT_EQ(count(page, "<rect class=\"bytes-stored\""), 10u);
  EXPECT_EQ(count(page, "class=\"worst-label\""), 3u);
  EXPECT_NE(page.find(">layer_12 ("), std::string::npos);
  EXPECT_NE(page.find("#8 <code>layer_7</code> (Relu): fused into the previous node"), std::string::npos);

  // Self-contained: the SVG namespace is the only URL.
  EXPECT_EQ(count(page, "http://") + count(page, "https://"), count(page, "http://www.w3.org/2000/svg"));
  EXPECT_EQ(count(page, "http://www.w3.org/2000/svg"), 2u);
}

TEST(CheckHtml, CompressPageShowsTheBackoff) {
  const std::string page = render_html(backoff_result());
  EXPECT_NE(page.find("<h1>pare compress <span class=\"verdict pass\">PASS</span></h1>"), std::string::npos);
  EXPECT_NE(page.find("the budgets hold after 2 relaxations"), std::string::npos);
  EXPECT_NE(page.find("<h2>Back-off</h2>"), std::string::npos);
  EXPECT_NE(page.find("margin of 1 standard errors"), std::string::npos);
  EXPECT_EQ(count(page, "<table class=\"relaxations\">"), 1u);
  EXPECT_NE(page.find("<th>back-off</th>"), std::string::npos);
  EXPECT_NE(page.find("<td>palette &gt;= 3 bits</td>"), std::string::npos);
  EXPECT_EQ(page.find(kHostileName), std::string::npos);  // escaped in the pipeline and the table
  EXPECT_EQ(count(page, "<svg "), 2u);
  // pare check's page has no back-off column.
  EXPECT_EQ(render_html(sample_result()).find("back-off"), std::string::npos);
}

TEST(CheckHtml, SameResultSameBytesAndWriteHtmlWritesThem) {
  const CheckResult r = sample_result();
  const std::string page = render_html(r);
  EXPECT_EQ(page, render_html(sample_result()));
  TempDir tmp;
  write_html(r, tmp.file("report.html"));
  EXPECT_EQ(test::read_file(tmp.file("report.html")), page);
}

TEST(CheckHtml, WriteFailureThrowsInvalidInput) {
  TempDir tmp;
  try {
    write_html(sample_result(), tmp.file("missing/report.html"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Status::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("missing/report.html"), std::string::npos) << e.what();
  }
}

TEST(CheckHtml, EmptyResultRendersWithoutChartsOrLabels) {
  const std::string page = render_html(CheckResult{});
  EXPECT_NE(page.find("<span class=\"verdict pass\">PASS</span>"), std::string::npos);
  EXPECT_NE(page.find("No budgets given"), std::string::npos);
  EXPECT_NE(page.find("No layers to chart."), std::string::npos);
  EXPECT_NE(page.find("No layer has a constant weight."), std::string::npos);
  EXPECT_NE(page.find("no labels given"), std::string::npos);
  EXPECT_EQ(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("size ratio</th><td>n/a"), std::string::npos);
  EXPECT_NE(page.find("</html>"), std::string::npos);
}

TEST(CheckHtml, NonFiniteValuesAndControlCharacters) {
  CheckResult r;
  LayerError exact, broken;
  exact.node = "exact", exact.op = "Conv", exact.aligned = true, exact.snr_db = INFINITY, exact.cosine = 1;
  broken.node = "tab\tnew\nbell\a", broken.op = "Add", broken.aligned = true, broken.snr_db = NAN;
  r.layers = {exact, broken};
  r.snr_db = -INFINITY;
  const std::string page = render_html(r);
  EXPECT_EQ(count(page, "<rect class=\"snr-bar exact\""), 1u);  // NaN: no bar
  EXPECT_NE(page.find("\u221E"), std::string::npos);
  EXPECT_NE(page.find("\u2212\u221E dB"), std::string::npos);
  EXPECT_NE(page.find("bell&#xFFFD;"), std::string::npos);
  EXPECT_EQ(page.find("\a"), std::string::npos);
  EXPECT_EQ(page.find("inf"), std::string::npos);
  EXPECT_EQ(page.find("nan"), std::string::npos);
}

// --- in a browser ---

std::string find_chromium() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/chromium";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// Runs a program (no shell) with stdout and stderr sent to files; returns its exit code.
int run(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(out.c_str(), "w", stdout) || !freopen(err.c_str(), "w", stderr)) _exit(127);
    std::vector<char*> argv;
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Chromium loads the page from file:// with console logging on stderr (a script error or a
// failed load would be an "INFO:CONSOLE" line), dumps the DOM it built and takes a
// screenshot, all in one run.
TEST(CheckHtml, RendersInHeadlessChromium) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    std::printf("chromium is not installed: the browser check is SKIPPED (scripts/install_deps.sh installs it)\n");
    GTEST_SKIP() << "chromium is not installed";
  }
  TempDir tmp;
  const CheckResult r = sample_result();
  write_html(r, tmp.file("page.html"));
  write_html(backoff_result(), tmp.file("compress.html"));
  const int code = run({"timeout", "60", chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--enable-logging=stderr", "--v=0", "--user-data-dir=" + tmp.file("profile"),
                        "--screenshot=" + tmp.file("page.png"), "--window-size=1200,2000", "--dump-dom",
                        "file://" + tmp.file("page.html")},
                       tmp.file("dom.html"), tmp.file("stderr.txt"));
  const std::string dom = test::read_file(tmp.file("dom.html")), err = test::read_file(tmp.file("stderr.txt"));
  ASSERT_EQ(code, 0) << err;
  EXPECT_EQ(err.find("CONSOLE"), std::string::npos) << err;
  EXPECT_EQ(err.find("Uncaught"), std::string::npos) << err;

  // The DOM the browser built: the verdict, both charts with their bars, no script element
  // (the hostile name stayed text).
  EXPECT_NE(dom.find("<span class=\"verdict fail\">FAIL</span>"), std::string::npos);
  EXPECT_EQ(count(dom, "<svg "), 2u);
  EXPECT_EQ(count(dom, "<rect class=\"snr-bar"), 19u);
  EXPECT_EQ(count(dom, "class=\"gap-mark\""), 1u);
  EXPECT_EQ(count(dom, "<rect class=\"bytes-dense\""), 10u);
  EXPECT_EQ(count(dom, "<rect class=\"bytes-stored\""), 10u);
  EXPECT_EQ(dom.find("<script"), std::string::npos);
  // The browser serialises text with only &, < and > escaped.
  EXPECT_NE(dom.find("conv&lt;script&gt;alert(\"x&amp;y\")&lt;/script&gt;'q"), std::string::npos);

  // The screenshot: the window's size, and a page (text, red verdict, coloured bars), not a
  // blank single colour.
  int w = 0, h = 0, channels = 0;
  unsigned char* pixels = stbi_load(tmp.file("page.png").c_str(), &w, &h, &channels, 3);
  ASSERT_NE(pixels, nullptr) << "no screenshot";
  EXPECT_EQ(w, 1200);
  EXPECT_EQ(h, 2000);
  std::set<uint32_t> colours;
  size_t reddish = 0;
  for (size_t i = 0; i < size_t(w) * h; ++i) {
    const unsigned char* p = pixels + 3 * i;
    colours.insert(uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]);
    reddish += p[0] > 150 && p[1] < 80 && p[2] < 80;
  }
  stbi_image_free(pixels);
  EXPECT_GT(colours.size(), 50u);
  EXPECT_GT(reddish, 500u);  // the FAIL badge and the worst layers' bars

  // pare compress's page: the verdict, the back-off table and both charts, no console error.
  const int compress_code = run({"timeout", "60", chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                 "--enable-logging=stderr", "--v=0", "--user-data-dir=" + tmp.file("profile2"),
                                 "--dump-dom", "file://" + tmp.file("compress.html")},
                                tmp.file("dom2.html"), tmp.file("stderr2.txt"));
  const std::string dom2 = test::read_file(tmp.file("dom2.html")), err2 = test::read_file(tmp.file("stderr2.txt"));
  ASSERT_EQ(compress_code, 0) << err2;
  EXPECT_EQ(err2.find("CONSOLE"), std::string::npos) << err2;
  EXPECT_NE(dom2.find("<span class=\"verdict pass\">PASS</span>"), std::string::npos);
  EXPECT_NE(dom2.find("<h2>Back-off</h2>"), std::string::npos);
  EXPECT_EQ(count(dom2, "<svg "), 2u);
  EXPECT_EQ(count(dom2, "<rect class=\"snr-bar"), 19u);
  EXPECT_EQ(dom2.find("<script"), std::string::npos);
}

}  // namespace
}  // namespace pare::check
