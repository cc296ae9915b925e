//! `orion openapi`: print the OpenAPI document.

use anyhow::Result;

pub fn run() -> Result<()> {
    println!("{}", orion_web::openapi_json());
    Ok(())
}
