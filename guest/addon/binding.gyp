{
  "targets": [
    {
      "target_name": "mm",
      "sources": ["mm.c", "guard.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
