{
  "targets": [
    {
      "target_name": "mcr",
      "sources": ["<!@(ls -1 native/*.cc native/*/*.cc)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fexceptions"],
      "ldflags": ["-pthread"]
    },
    { "target_name": "bench_gen", "type": "executable", "sources": ["bench/src/gen.c"], "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra"] },
    { "target_name": "bench_sink", "type": "executable", "sources": ["bench/src/sink.c"], "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra"] },
    { "target_name": "bench_mroute", "type": "executable", "sources": ["bench/src/mroute.c"], "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra"] }
  ]
}
