//! A schema rebuilt from a saved `query-qmp-schema` reply gives the same
//! API back: no difference on the wire from QEMU 7.2's reply, derived
//! names where QEMU masked them.

use qapi_schema::introspect::{diff, ApiSource, IntrospectOptions, SchemaInfo};
use qapi_schema::{load_str, Conditions, LoadOptions};

/// The list the rebuilt schema gives, and the schema text.
fn rebuilt(info: &SchemaInfo) -> (SchemaInfo, String) {
    let text = info.to_schema_source().unwrap_or_else(|e| panic!("{e}"));
    let schema = load_str("rebuilt.json", &text, LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    (
        SchemaInfo::from_schema(&schema, &Conditions::All, IntrospectOptions::default()),
        text,
    )
}

#[test]
fn the_qemu_7_2_reply_rebuilds_without_a_wire_difference() {
    let Some(path) =
        qmp_test_support::shared_path("qemu/expected/7.2-x86_64-query-qmp-schema.json")
    else {
        return;
    };
    let reply = ApiSource::Introspection(path)
        .load()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_info();
    let (again, text) = rebuilt(&reply);
    assert_eq!(diff(&reply, &again), [], "{text}");
    assert_eq!(again.commands().count(), reply.commands().count());
    assert_eq!(again.events().count(), reply.events().count());
    // Names come from the paths that reach the types.
    assert!(text.contains("{ 'struct': 'QueryStatusRet',"), "{text}");
    assert!(text.contains("{ 'union': 'BlockdevAddArg',"));
    assert!(
        text.contains("{ 'command': 'blockdev-add',\n  'data': 'BlockdevAddArg', 'boxed': true")
    );
}

#[test]
fn a_small_list_keeps_real_names_and_shapes() {
    let schema = load_str(
        "s.json",
        "{ 'enum': 'Kind', 'data': [ 'a', { 'name': 'b', 'features': [ 'deprecated' ] } ] }
         { 'struct': 'Thing', 'data': { 'sort': 'Kind', '*tags': [ 'str' ] } }
         { 'union': 'Choice', 'base': { 'kind': 'Kind' }, 'discriminator': 'kind',
           'data': { 'a': 'Thing' } }
         { 'alternate': 'Ref', 'data': { 'name': 'str', 'thing': 'Thing' } }
         { 'command': 'pick', 'data': { 'c': 'Choice', 'r': 'Ref' }, 'returns': [ 'Thing' ],
           'allow-oob': true, 'features': [ 'unstable' ] }
         { 'event': 'PICKED', 'data': { 'n': 'int' } }",
        LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for options in [IntrospectOptions::default(), IntrospectOptions::VALIDATION] {
        let info = SchemaInfo::from_schema(&schema, &Conditions::All, options);
        let (again, text) = rebuilt(&info);
        assert_eq!(diff(&info, &again), [], "{text}");
        if options == IntrospectOptions::VALIDATION {
            // Unmasked: the real names stay.
            assert!(text.contains("{ 'union': 'Choice',"), "{text}");
            assert!(text.contains("{ 'struct': 'Thing',"), "{text}");
        } else {
            assert!(text.contains("{ 'union': 'PickArgC',"), "{text}");
            assert!(text.contains("{ 'alternate': 'PickArgR',\n  'data': { 'str': 'str',\n            'object': 'PickRet' }"), "{text}");
        }
    }
}
