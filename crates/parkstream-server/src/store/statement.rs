//! One SQL statement with owned parameters: what planning produces and both backends run.

use std::borrow::Cow;

/// One parameter. Each variant keeps its SQL type when NULL, which PostgreSQL needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Param::Int(Some(value))
    }
}

impl From<Option<i64>> for Param {
    fn from(value: Option<i64>) -> Self {
        Param::Int(value)
    }
}

impl From<f64> for Param {
    fn from(value: f64) -> Self {
        Param::Real(Some(value))
    }
}

impl From<String> for Param {
    fn from(value: String) -> Self {
        Param::Text(Some(value))
    }
}

impl From<&str> for Param {
    fn from(value: &str) -> Self {
        Param::Text(Some(value.to_owned()))
    }
}

impl From<Option<&str>> for Param {
    fn from(value: Option<&str>) -> Self {
        Param::Text(value.map(str::to_owned))
    }
}

/// One statement: parameter `$N` is `params[N - 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: Cow<'static, str>,
    pub params: Vec<Param>,
}

pub(super) fn statement(sql: &'static str, params: Vec<Param>) -> Statement {
    Statement {
        sql: Cow::Borrowed(sql),
        params,
    }
}
