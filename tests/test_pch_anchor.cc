// The one source of dsv32_test_pch, the program that owns the test binaries'
// shared precompiled header; it has no tests of its own.
