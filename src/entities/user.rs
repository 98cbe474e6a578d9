use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub email: String,
    pub full_name: String,
    pub handle: String,
    pub is_verified: bool,
    pub verified_at: Option<DateTimeUtc>,
    pub is_active: bool,
    pub last_login_at: Option<DateTimeUtc>,
    pub role: String,
    pub two_factor_enabled: bool,
    pub marketing_opt_out: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
