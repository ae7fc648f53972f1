{
  "targets": [
    {
      "target_name": "mm",
      "sources": ["mm.c", "guard.c", "uffd.c"],
      "libraries": ["-lpthread"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
