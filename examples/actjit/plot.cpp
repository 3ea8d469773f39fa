// Plot rendering (see plot.hpp).
#include "examples/actjit/plot.hpp"

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace actjit::plot {

namespace {

struct Rgb {
  double r, g, b;
  int ansi;  // 256-colour code
};
const Rgb kPalette[] = {{0.12, 0.47, 0.71, 33},  {0.85, 0.37, 0.01, 208}, {0.17, 0.63, 0.17, 34},
                        {0.84, 0.15, 0.16, 160}, {0.58, 0.40, 0.74, 134}, {0.55, 0.34, 0.29, 130}};
const Rgb& palette(int i) { return kPalette[size_t(i) % std::size(kPalette)]; }

struct Range {
  double lo, hi;
};

/// The finite values' range, padded by 5%. Where a few values near a pole
/// (log(x)'s slope 1/x at 0) stretch it past 5 times the range of the
/// middle 96%, that range instead, widened by half: the curves then leave
/// the frame near the pole instead of flattening everywhere else.
Range y_range(const Figure& f) {
  std::vector<double> v;
  for (const Series& s : f.series)
    for (double y : s.y)
      if (std::isfinite(y)) v.push_back(y);
  if (v.empty()) return {-1, 1};
  std::sort(v.begin(), v.end());
  double lo = v.front(), hi = v.back();
  double qlo = v[v.size() / 50], qhi = v[v.size() - 1 - v.size() / 50];
  if (qhi > qlo && hi - lo > 5 * (qhi - qlo)) {
    lo = std::max(lo, qlo - 0.5 * (qhi - qlo));
    hi = std::min(hi, qhi + 0.5 * (qhi - qlo));
  }
  if (hi - lo < 1e-12) {
    lo -= 1;
    hi += 1;
  }
  double pad = 0.05 * (hi - lo);
  return {lo - pad, hi + pad};
}

/// The part of the segment (ax, ay)-(bx, by) with lo <= y <= hi; false where
/// none is (values past the range, which y_range may leave out), and where
/// the segment crosses the whole range (a pole between two samples: tan(x)
/// at pi/2 is not joined from +inf to -inf).
bool clip_segment(double& ax, double& ay, double& bx, double& by, double lo, double hi) {
  // (a value far past the range maps to an infinite coordinate: not drawn)
  if (!std::isfinite(ay) || !std::isfinite(by) || (ay < lo && by > hi) || (ay > hi && by < lo)) return false;
  double t0 = 0, t1 = 1, dy = by - ay;
  for (auto [bound, below] : {std::pair{lo, true}, std::pair{hi, false}}) {
    if (dy == 0) {
      if (below ? ay < bound : ay > bound) return false;
      continue;
    }
    double t = (bound - ay) / dy;
    if ((dy > 0) == below)
      t0 = std::max(t0, t);
    else
      t1 = std::min(t1, t);
  }
  if (t0 > t1) return false;
  double dx = bx - ax;
  bx = ax + t1 * dx;
  by = ay + t1 * dy;
  ax += t0 * dx;
  ay += t0 * dy;
  return true;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", std::fabs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

}  // namespace

std::vector<double> grid(double x0, double x1, size_t n) {
  std::vector<double> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = x0 + (x1 - x0) * double(i) / double(n - 1);
  return x;
}

std::string terminal(const Figure& f, int width, int height, bool color) {
  Range yr = y_range(f);
  const std::string top = number(yr.hi), middle = number((yr.hi + yr.lo) / 2), bottom = number(yr.lo);
  // the labels' column: 8 characters, more for a long label (-3.67e+307)
  const int margin = int(std::max({size_t(8), top.size(), middle.size(), bottom.size()})) + 1;
  int cols = std::max(10, width - margin - 1), rows = std::max(4, height);
  int pw = cols * 2, ph = rows * 4;  // braille dots
  std::vector<uint8_t> dots(size_t(cols * rows), 0);
  std::vector<int> owner(size_t(cols * rows), -1);
  auto px = [&](double x) { return (x - f.x0) / (f.x1 - f.x0) * (pw - 1); };
  auto py = [&](double y) { return (yr.hi - y) / (yr.hi - yr.lo) * (ph - 1); };
  auto set = [&](int x, int y, int who) {
    if (x < 0 || y < 0 || x >= pw || y >= ph) return;
    static const uint8_t bit[4][2] = {{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}};
    size_t cell = size_t((y / 4) * cols + x / 2);
    dots[cell] |= bit[y % 4][x % 2];
    if (who >= 0 || owner[cell] < 0) owner[cell] = who;
  };
  // Axes (owner -1: drawn in the neutral colour).
  if (yr.lo < 0 && yr.hi > 0)
    for (int x = 0; x < pw; x += 2) set(x, int(std::lround(py(0))), -1);
  if (f.x0 < 0 && f.x1 > 0)
    for (int y = 0; y < ph; y += 2) set(int(std::lround(px(0))), y, -1);
  for (size_t s = 0; s < f.series.size(); ++s) {
    const Series& ser = f.series[s];
    for (size_t i = 0; i + 1 < f.x.size(); ++i) {
      double y0 = ser.y[i], y1 = ser.y[i + 1];
      if (!std::isfinite(y0) || !std::isfinite(y1)) continue;
      double ax = px(f.x[i]), ay = py(y0), bx = px(f.x[i + 1]), by = py(y1);
      if (!clip_segment(ax, ay, bx, by, -1, ph)) continue;
      int steps = int(std::max({std::fabs(bx - ax), std::fabs(by - ay), 1.0}) * 2);
      for (int k = 0; k <= steps; ++k) {
        if (ser.dashed && (k / 3) % 2) continue;
        double t = double(k) / steps;
        set(int(std::lround(ax + t * (bx - ax))), int(std::lround(ay + t * (by - ay))), int(s));
      }
    }
  }
  std::string out;
  for (int r = 0; r < rows; ++r) {
    std::string label;
    if (r == 0) label = top;
    if (r == rows - 1) label = bottom;
    if (r == rows / 2) label = middle;
    out += std::string(size_t(margin - 1) - label.size(), ' ') + label + ' ';
    out += r == 0 || r == rows - 1 || r == rows / 2 ? "┤" : "│";
    int current = -2;
    for (int c = 0; c < cols; ++c) {
      size_t cell = size_t(r * cols + c);
      int who = owner[cell];
      if (color && dots[cell] && who != current) {
        out += who < 0 ? "\033[0;90m" : "\033[0;38;5;" + std::to_string(palette(f.series[size_t(who)].color).ansi) + "m";
        current = who;
      }
      uint32_t cp = 0x2800 + dots[cell];
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
    if (color && current != -2) out += "\033[0m";
    out += '\n';
  }
  out += std::string(size_t(margin), ' ') + "└";
  for (int c = 0; c < cols; ++c) out += (c == 0 || c == cols / 2 || c == cols - 1) ? "┬" : "─";
  out += '\n';
  std::string xl0 = number(f.x0), xl1 = number((f.x0 + f.x1) / 2), xl2 = number(f.x1);
  std::string ticks(size_t(margin + 1 + cols), ' ');
  auto put = [&](size_t at, const std::string& s) {
    if (at + s.size() > ticks.size()) at = ticks.size() - s.size();
    ticks.replace(at, s.size(), s);
  };
  put(size_t(margin + 1), xl0);
  put(size_t(margin + 1 + cols / 2) - xl1.size() / 2, xl1);
  put(size_t(margin + 1 + cols) - xl2.size(), xl2);
  out += ticks + '\n';
  std::string legend = std::string(size_t(margin + 1), ' ');
  for (const Series& s : f.series) {
    std::string mark = s.dashed ? "┄┄ " : "── ";
    if (color) legend += "\033[38;5;" + std::to_string(palette(s.color).ansi) + "m";
    legend += mark + s.label;
    if (color) legend += "\033[0m";
    legend += "   ";
  }
  return out + legend + '\n';
}

std::string to_file(const Figure& f, const std::string& path) {
  const double W = f.width, H = f.height, left = 70, right = 20, top = 20, bottom = 90;
  bool svg = path.size() > 4 && path.substr(path.size() - 4) == ".svg";
  bool png = path.size() > 4 && path.substr(path.size() - 4) == ".png";
  if (!svg && !png) return "the output file must end in .svg or .png";
  // Cairo reports an unwritable path only as "error while writing to output
  // stream"; opening it first gives the reason (no such directory, ...).
  if (FILE* file = std::fopen(path.c_str(), "wb")) {
    std::fclose(file);
  } else {
    return "cannot create " + path + ": " + std::strerror(errno);
  }
  cairo_surface_t* surface = svg ? cairo_svg_surface_create(path.c_str(), W, H)
                                 : cairo_image_surface_create(CAIRO_FORMAT_ARGB32, int(W), int(H));
  if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
    std::string e = cairo_status_to_string(cairo_surface_status(surface));
    cairo_surface_destroy(surface);
    return "cannot create " + path + ": " + e;
  }
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  Range yr = y_range(f);
  double pw = W - left - right, ph = H - top - bottom;
  auto X = [&](double x) { return left + (x - f.x0) / (f.x1 - f.x0) * pw; };
  auto Y = [&](double y) { return top + (yr.hi - y) / (yr.hi - yr.lo) * ph; };
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 13);
  // Grid, ticks and labels.
  cairo_set_line_width(cr, 1);
  for (int i = 0; i <= 8; ++i) {
    double xv = f.x0 + (f.x1 - f.x0) * i / 8, yv = yr.lo + (yr.hi - yr.lo) * i / 8;
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, X(xv), top);
    cairo_line_to(cr, X(xv), top + ph);
    cairo_move_to(cr, left, Y(yv));
    cairo_line_to(cr, left + pw, Y(yv));
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    std::string xs = number(xv), ys = number(yv);
    cairo_move_to(cr, X(xv) - 4 * double(xs.size()) / 1.2, top + ph + 18);
    cairo_show_text(cr, xs.c_str());
    cairo_move_to(cr, left - 8 - 7 * double(ys.size()), Y(yv) + 4);
    cairo_show_text(cr, ys.c_str());
  }
  cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
  cairo_set_line_width(cr, 1.2);
  if (yr.lo < 0 && yr.hi > 0) {
    cairo_move_to(cr, left, Y(0));
    cairo_line_to(cr, left + pw, Y(0));
  }
  if (f.x0 < 0 && f.x1 > 0) {
    cairo_move_to(cr, X(0), top);
    cairo_line_to(cr, X(0), top + ph);
  }
  cairo_rectangle(cr, left, top, pw, ph);
  cairo_stroke(cr);
  // Curves, clipped to the plot area.
  cairo_save(cr);
  cairo_rectangle(cr, left, top, pw, ph);
  cairo_clip(cr);
  auto pen_for = [&](const Series& s) {  // the series' colour, width and dashes
    const Rgb& c = palette(s.color);
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_set_line_width(cr, 2.2);
    double dash[] = {7, 5};
    cairo_set_dash(cr, dash, s.dashed ? 2 : 0, 0);
  };
  for (const Series& s : f.series) {
    pen_for(s);
    bool pen = false;  // the path's end is the next segment's start
    for (size_t i = 0; i + 1 < f.x.size(); ++i) {
      double ax = X(f.x[i]), ay = Y(s.y[i]), bx = X(f.x[i + 1]), by = Y(s.y[i + 1]);
      const double a0 = ay, b0 = by;
      if (!std::isfinite(ay) || !std::isfinite(by) || !clip_segment(ax, ay, bx, by, top - 2, top + ph + 2)) {
        pen = false;
        continue;
      }
      if (!pen || ay != a0) cairo_move_to(cr, ax, ay);
      cairo_line_to(cr, bx, by);
      pen = by == b0;
    }
    cairo_stroke(cr);
  }
  cairo_restore(cr);
  // Legend under the plot.
  double lx = left, ly = H - 30;
  for (const Series& s : f.series) {
    pen_for(s);
    cairo_move_to(cr, lx, ly - 4);
    cairo_line_to(cr, lx + 28, ly - 4);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_move_to(cr, lx + 34, ly);
    cairo_show_text(cr, s.label.c_str());
    cairo_text_extents_t ext;
    cairo_text_extents(cr, s.label.c_str(), &ext);
    lx += 34 + ext.x_advance + 24;
    if (lx > W - 200) {
      lx = left;
      ly += 18;
    }
  }
  cairo_destroy(cr);
  std::string error;
  if (png && cairo_surface_write_to_png(surface, path.c_str()) != CAIRO_STATUS_SUCCESS) error = "cannot write " + path;
  cairo_surface_finish(surface);
  if (error.empty() && cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS)
    error = "cannot write " + path + ": " + cairo_status_to_string(cairo_surface_status(surface));
  cairo_surface_destroy(surface);
  return error;
}

}  // namespace actjit::plot
