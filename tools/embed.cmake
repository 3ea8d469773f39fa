# Turns a file into a C++ source defining `extern const char SYMBOL[]` (the
# bytes and a 0) and `extern const unsigned long long SYMBOL_size` (the
# byte count, for binary files).
# Usage: cmake -DIN=file -DOUT=file.cpp -DSYMBOL=name -P embed.cmake
file(READ "${IN}" content HEX)
string(LENGTH "${content}" digits)
math(EXPR size "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${content}")
file(WRITE "${OUT}" "// Generated from ${IN} by tools/embed.cmake; do not edit.\n"
  "extern const char ${SYMBOL}[];\n"
  "extern const unsigned long long ${SYMBOL}_size;\n"
  "const char ${SYMBOL}[] = {${bytes} 0};\n"
  "const unsigned long long ${SYMBOL}_size = ${size};\n")
