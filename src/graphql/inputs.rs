//! GraphQL inputs whose shape differs from the REST body (enums for scopes, "absent vs null"
//! through `MaybeUndefined`); each converts into the domain input the REST route uses.

use async_graphql::{InputObject, MaybeUndefined};
use serde_json::Value;

use crate::domain::access::Scope;
use crate::domain::api_keys::{CreateKey, UpdateKey};
use crate::domain::organizations::UpdateOrganization;
use crate::domain::projects::{Frequency, ProjectStatus, UpdateProject};

/// `undefined` leaves a field alone, `null` clears it, a value sets it.
fn tri<T>(v: MaybeUndefined<T>) -> Option<Option<T>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

fn scope_names(scopes: Vec<Scope>) -> Vec<String> {
    scopes.into_iter().map(|s| s.as_str().to_string()).collect()
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    pub name: String,
    /// Seconds until expiry, 60..31536000; omitted: never expires.
    pub expires_in: Option<i32>,
    pub scopes: Option<Vec<Scope>>,
    /// Pins the key to this organization.
    pub organization_id: Option<String>,
    /// Free-form JSON object (up to 4 KiB) kept with the key.
    pub metadata: Option<async_graphql::Json<serde_json::Map<String, Value>>>,
}

impl From<CreateApiKeyInput> for CreateKey {
    fn from(i: CreateApiKeyInput) -> Self {
        let mut metadata = i.metadata.map(|m| m.0);
        if let Some(org) = i.organization_id {
            metadata.get_or_insert_with(Default::default).insert("organizationId".into(), Value::String(org));
        }
        CreateKey { name: i.name, expires_in: i.expires_in.map(i64::from), scopes: i.scopes.map(scope_names), metadata }
    }
}

#[derive(InputObject)]
pub struct UpdateApiKeyInput {
    pub id: String,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub scopes: Option<Vec<Scope>>,
}

impl From<UpdateApiKeyInput> for UpdateKey {
    fn from(i: UpdateApiKeyInput) -> Self {
        UpdateKey { key_id: i.id, name: i.name, enabled: i.enabled, scopes: i.scopes.map(scope_names) }
    }
}

#[derive(InputObject)]
pub struct UpdateOrganizationInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// `null` removes the logo.
    pub logo_url: MaybeUndefined<String>,
}

impl From<UpdateOrganizationInput> for UpdateOrganization {
    fn from(i: UpdateOrganizationInput) -> Self {
        UpdateOrganization { name: i.name, slug: i.slug, logo_url: tri(i.logo_url) }
    }
}

#[derive(InputObject)]
pub struct UpdateProjectInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: MaybeUndefined<String>,
    pub business_context: MaybeUndefined<String>,
    pub monitoring_intent: MaybeUndefined<String>,
    pub website: MaybeUndefined<String>,
    pub timezone: Option<String>,
    pub status: Option<ProjectStatus>,
    pub frequency: Option<Frequency>,
}

impl From<UpdateProjectInput> for UpdateProject {
    fn from(i: UpdateProjectInput) -> Self {
        UpdateProject {
            name: i.name,
            slug: i.slug,
            description: tri(i.description),
            business_context: tri(i.business_context),
            monitoring_intent: tri(i.monitoring_intent),
            website: tri(i.website),
            timezone: i.timezone,
            status: i.status,
            frequency: i.frequency,
        }
    }
}
