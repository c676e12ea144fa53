//! Shared helpers for integration and end-to-end tests. Each test binary includes this module
//! with `mod support;`; not every binary uses every helper.
#![allow(dead_code)]

pub mod aws;
pub mod browser;
pub mod ec2;
pub mod rds;
pub mod serve;
pub mod tools;
