//! Regression tests for defects found by outside testing (issue 21).

mod openapi;
