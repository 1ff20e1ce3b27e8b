#![no_main]
// JSON through Snapshot deserialization and Limiter::restore, then a use of what restored.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tollgate_fuzz::snapshot(data));
