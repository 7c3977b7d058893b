//! The scenario builder the tests share writes TOML the product parses,
//! with the keys where TOML needs them.

use crate::common::scenario::scenario;

#[test]
fn scenario_builder_writes_the_keys_in_toml_order() {
    let text = scenario()
        .table("[sim.rate_limit]\nper_user_per_second = 0")
        .open("2s", 40)
        .target("http://127.0.0.1:9")
        .compare(&["compliant", "naive"])
        .drain("5s")
        .quantity(1)
        .toml();
    assert_eq!(
        text,
        "compare = [\"compliant\", \"naive\"]\n\
         [target]\nurl = \"http://127.0.0.1:9\"\n\
         [load]\nmodel = \"open\"\nstages = [{ duration = \"2s\", rate = 40 }]\ndrain = \"5s\"\n\
         [journey]\nquantity = 1\n\
         [sim.rate_limit]\nper_user_per_second = 0\n"
    );
}

#[test]
fn scenario_builder_output_is_a_valid_plan() {
    let plan = scenario()
        .name("built")
        .seed(4)
        .compare(&["compliant"])
        .gates(&["compliant.amplification >= 1"])
        .ticket_drop(10, "200ms")
        .drain("10s")
        .quantity(1)
        .plan();
    assert_eq!(plan.name, "built");
}
