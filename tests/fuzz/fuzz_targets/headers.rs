#![no_main]
// Header lines ("Name: value", one a line) through every header parser.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tollgate_fuzz::headers(data));
