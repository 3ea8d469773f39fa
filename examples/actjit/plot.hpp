// Plots of functions and their derivatives: in the terminal (Unicode braille,
// axes, ticks, legend, ANSI colours) and to SVG or PNG files (cairo).
#pragma once

#include <string>
#include <vector>

namespace actjit::plot {

struct Series {
  std::string label;
  std::vector<double> y;  // at the shared x grid; non-finite values leave gaps
  bool dashed = false;    // derivatives are drawn dashed (files) / dimmer (terminal)
  int color = 0;          // index into the palette
};

struct Figure {
  double x0 = -5, x1 = 5;
  int width = 900, height = 560;  // pixels, for files
  std::vector<double> x;  // sample points, increasing
  std::vector<Series> series;
};

/// Samples [x0, x1] at n points.
std::vector<double> grid(double x0, double x1, size_t n);

/// The figure as text for a terminal `width` columns wide and `height` rows
/// of plot area; `color` adds ANSI colours.
std::string terminal(const Figure& f, int width, int height, bool color);

/// Writes the figure to `path` (.svg or .png). Returns an error message, or
/// "" on success.
std::string to_file(const Figure& f, const std::string& path);

}  // namespace actjit::plot
