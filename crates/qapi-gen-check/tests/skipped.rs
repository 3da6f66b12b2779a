//! Reports why the generated-code tests did not run, when they did not.

#[cfg(not(qapi_generated))]
#[test]
fn generated_code_tests_skipped() {
    qmp_test_support::skip("the shared QEMU schemas were absent when this crate was built");
}
