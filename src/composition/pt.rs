//! Patch & transform vocabulary, shared by `mode: Resources` Compositions and the
//! function-patch-and-transform input (`pt.fn.crossplane.io/v1beta1`, kind `Resources`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::types::any_object;

fn any_value(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"x-kubernetes-preserve-unknown-fields": true})
}

/// A composed resource template.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComposedTemplate {
    /// Name of the template, unique in the Composition; recorded on the composed object in the
    /// `crossplane.io/composition-resource-name` annotation.
    #[serde(default)]
    pub name: String,
    /// The object every render starts from.
    #[serde(default)]
    #[schemars(schema_with = "any_object")]
    pub base: Value,
    /// Patches applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
    /// Connection details this resource contributes to the composite.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connection_details: Vec<ConnectionDetail>,
    /// How readiness is decided; empty means the composed `Ready` condition is `True`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readiness_checks: Vec<ReadinessCheck>,
}

/// A named, reusable list of patches.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatchSet {
    /// Name referenced by `patchSetName`.
    pub name: String,
    /// The patches.
    pub patches: Vec<Patch>,
}

/// One patch between the composite and a composed resource.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Patch {
    /// Patch type; defaults to `FromCompositeFieldPath`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<PatchType>,
    /// Source field path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_field_path: Option<String>,
    /// Destination field path; defaults to `fromFieldPath`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_field_path: Option<String>,
    /// Sources and strategy of a combine patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combine: Option<Combine>,
    /// Patch set applied by a `PatchSet` patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_set_name: Option<String>,
    /// Transforms applied to the value, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<Transform>,
    /// How missing sources and existing destinations are treated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PatchPolicy>,
}

/// Patch types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum PatchType {
    /// Composite field → composed field.
    #[default]
    FromCompositeFieldPath,
    /// Composed field → composite field.
    ToCompositeFieldPath,
    /// Several composite fields → one composed field.
    CombineFromComposite,
    /// Several composed fields → one composite field.
    CombineToComposite,
    /// Apply a named patch set.
    PatchSet,
    /// Environment → composed resource (EnvironmentConfigs are not supported yet).
    FromEnvironmentFieldPath,
    /// Composed resource → environment (not supported yet).
    ToEnvironmentFieldPath,
    /// Several environment fields → one composed field (not supported yet).
    CombineFromEnvironment,
    /// Several composed fields → one environment field (not supported yet).
    CombineToEnvironment,
}

impl PatchType {
    /// The name used in manifests and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FromCompositeFieldPath => "FromCompositeFieldPath",
            Self::ToCompositeFieldPath => "ToCompositeFieldPath",
            Self::CombineFromComposite => "CombineFromComposite",
            Self::CombineToComposite => "CombineToComposite",
            Self::PatchSet => "PatchSet",
            Self::FromEnvironmentFieldPath => "FromEnvironmentFieldPath",
            Self::ToEnvironmentFieldPath => "ToEnvironmentFieldPath",
            Self::CombineFromEnvironment => "CombineFromEnvironment",
            Self::CombineToEnvironment => "CombineToEnvironment",
        }
    }
}

/// Patch policies.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatchPolicy {
    /// `Optional` (default: a missing source skips the patch) or `Required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_field_path: Option<FromFieldPathPolicy>,
    /// How the value is written to the destination; defaults to `Replace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_field_path: Option<ToFieldPathPolicy>,
}

/// What a missing source field means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum FromFieldPathPolicy {
    /// Skip the patch.
    #[default]
    Optional,
    /// Fail the resource.
    Required,
}

/// How a patched value meets an existing destination value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ToFieldPathPolicy {
    /// Overwrite the destination.
    #[default]
    Replace,
    /// Merge objects keeping existing destination values (arrays included).
    MergeObjects,
    /// Merge objects keeping existing destination values; append arrays.
    MergeObjectsAppendArrays,
    /// Merge objects overwriting destination values; replace arrays.
    ForceMergeObjects,
    /// Merge objects overwriting destination values; append arrays.
    ForceMergeObjectsAppendArrays,
}

/// Inputs and strategy of a combine patch.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Combine {
    /// The source fields, in order.
    pub variables: Vec<CombineVariable>,
    /// Only `string` is defined.
    pub strategy: String,
    /// Settings of the `string` strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<StringCombine>,
}

/// One combine input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CombineVariable {
    /// Source field path.
    pub from_field_path: String,
}

/// The `string` combine strategy: a Go-style format string over the variables.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct StringCombine {
    /// Format, e.g. `%s-%s`.
    pub fmt: String,
}

/// A value transform.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Transform {
    /// Which transform this is.
    #[serde(rename = "type")]
    pub type_: TransformType,
    /// `map`: string input → value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub map: Option<BTreeMap<String, Value>>,
    /// `match`: first matching pattern's result.
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub match_: Option<MatchTransform>,
    /// `math`: arithmetic on numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub math: Option<MathTransform>,
    /// `string`: string operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<StringTransform>,
    /// `convert`: type conversion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert: Option<ConvertTransform>,
}

/// Transform types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransformType {
    /// Look the input up in a map.
    #[default]
    Map,
    /// Match the input against patterns.
    Match,
    /// Arithmetic.
    Math,
    /// String operations.
    String,
    /// Type conversion.
    Convert,
}

impl TransformType {
    /// The name used in manifests and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Map => "map",
            Self::Match => "match",
            Self::Math => "math",
            Self::String => "string",
            Self::Convert => "convert",
        }
    }
}

/// The `match` transform.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatchTransform {
    /// Patterns tried in order.
    #[serde(default)]
    pub patterns: Vec<MatchPattern>,
    /// Result when nothing matches and `fallbackTo` is `Value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_value")]
    pub fallback_value: Option<Value>,
    /// `Value` (default: use `fallbackValue`) or `Input` (pass the input through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_to: Option<MatchFallback>,
}

/// What a `match` transform returns when no pattern matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum MatchFallback {
    /// `fallbackValue` (null when unset).
    #[default]
    Value,
    /// The input, unchanged.
    Input,
}

/// One `match` pattern.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatchPattern {
    /// `literal` or `regexp`.
    #[serde(rename = "type")]
    pub type_: MatchPatternType,
    /// Exact string to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<String>,
    /// Regular expression to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<String>,
    /// Value returned on a match.
    #[schemars(schema_with = "any_value")]
    pub result: Value,
}

/// Kinds of `match` pattern.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MatchPatternType {
    /// Exact string equality.
    #[default]
    Literal,
    /// Regular expression search.
    Regexp,
}

/// The `math` transform.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MathTransform {
    /// `Multiply` (default), `ClampMin` or `ClampMax`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<MathType>,
    /// Factor of `Multiply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiply: Option<i64>,
    /// Lower bound of `ClampMin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamp_min: Option<i64>,
    /// Upper bound of `ClampMax`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamp_max: Option<i64>,
}

/// Math operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum MathType {
    /// Multiply by `multiply`.
    #[default]
    Multiply,
    /// At least `clampMin`.
    ClampMin,
    /// At most `clampMax`.
    ClampMax,
}

/// The `string` transform.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StringTransform {
    /// Operation; defaults to `Format`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<StringType>,
    /// Go-style format string of `Format`, e.g. `db-%s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fmt: Option<String>,
    /// Conversion of `Convert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert: Option<StringConversion>,
    /// Prefix or suffix removed by `TrimPrefix` / `TrimSuffix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim: Option<String>,
    /// Settings of `Regexp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<StringRegexp>,
    /// Settings of `Join`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<StringJoin>,
    /// Settings of `Replace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<StringReplace>,
}

/// String operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum StringType {
    /// Format the input into `fmt`.
    #[default]
    Format,
    /// Apply a conversion.
    Convert,
    /// Remove a prefix.
    TrimPrefix,
    /// Remove a suffix.
    TrimSuffix,
    /// Extract a regular expression match or group.
    Regexp,
    /// Join an array with a separator.
    Join,
    /// Replace every occurrence of a string.
    Replace,
}

impl StringType {
    /// The name used in manifests and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Format => "Format",
            Self::Convert => "Convert",
            Self::TrimPrefix => "TrimPrefix",
            Self::TrimSuffix => "TrimSuffix",
            Self::Regexp => "Regexp",
            Self::Join => "Join",
            Self::Replace => "Replace",
        }
    }
}

/// String conversions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum StringConversion {
    /// Upper case.
    ToUpper,
    /// Lower case.
    ToLower,
    /// Standard base64 encoding.
    ToBase64,
    /// Standard base64 decoding.
    FromBase64,
    /// JSON encoding of any value.
    ToJson,
    /// Hex SHA-1 of the string (of the JSON encoding for non-strings).
    ToSha1,
    /// Hex SHA-256 of the string (of the JSON encoding for non-strings).
    ToSha256,
    /// Hex SHA-512 of the string (of the JSON encoding for non-strings).
    ToSha512,
    /// Adler-32 checksum of the string (of the JSON encoding for non-strings), in decimal.
    ToAdler32,
}

/// Settings of the `Regexp` string transform.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct StringRegexp {
    /// The regular expression.
    #[serde(rename = "match")]
    pub match_: String,
    /// Capture group to return; the whole match when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<usize>,
}

/// Settings of the `Join` string transform.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct StringJoin {
    /// Separator between elements.
    #[serde(default)]
    pub separator: String,
}

/// Settings of the `Replace` string transform.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct StringReplace {
    /// Text to find.
    pub search: String,
    /// Replacement text.
    #[serde(default)]
    pub replace: String,
}

/// The `convert` transform.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConvertTransform {
    /// `string`, `int`, `int64`, `bool`, `float64`, `object` or `array`.
    pub to_type: String,
    /// `none` (default), `quantity` (`10Gi` → number) or `json` (string → object/array).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// A readiness check on a composed resource.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessCheck {
    /// Which check this is.
    #[serde(rename = "type")]
    pub type_: ReadinessCheckType,
    /// Field checked by the field-based checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_path: Option<String>,
    /// Expected string of `MatchString`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_string: Option<String>,
    /// Expected integer of `MatchInteger`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_integer: Option<i64>,
    /// Expected condition of `MatchCondition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_condition: Option<MatchConditionCheck>,
}

/// Readiness check types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ReadinessCheckType {
    /// The field exists and is not empty.
    #[default]
    NonEmpty,
    /// The field equals `matchString`.
    MatchString,
    /// The field equals `matchInteger`.
    MatchInteger,
    /// The field is `true`.
    MatchTrue,
    /// The field is `false`.
    MatchFalse,
    /// A status condition has the given status.
    MatchCondition,
    /// Always ready.
    None,
}

/// Condition expected by `MatchCondition`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct MatchConditionCheck {
    /// Condition type, e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Expected status, e.g. `True`.
    pub status: String,
}

/// A connection detail a composed resource contributes to its composite.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDetail {
    /// Key in the composite's connection Secret; defaults to `fromConnectionSecretKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Source kind; inferred from which field is set when absent.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<ConnectionDetailType>,
    /// Key of the composed resource's connection Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_connection_secret_key: Option<String>,
    /// Field of the composed resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_field_path: Option<String>,
    /// Fixed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Connection detail sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ConnectionDetailType {
    /// A key of the composed resource's connection Secret.
    FromConnectionSecretKey,
    /// A field of the composed resource.
    FromFieldPath,
    /// A fixed value.
    FromValue,
}

/// The function-patch-and-transform input (`pt.fn.crossplane.io/v1beta1`, kind `Resources`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PtInput {
    /// Must be `pt.fn.crossplane.io/v1beta1`.
    pub api_version: String,
    /// Must be `Resources`.
    pub kind: String,
    /// Reusable patch sets.
    #[serde(default)]
    pub patch_sets: Vec<PatchSet>,
    /// Composed resource templates.
    #[serde(default)]
    pub resources: Vec<ComposedTemplate>,
}
