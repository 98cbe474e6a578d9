//! The text of every email Gatehouse sends. Links are built from `GATEHOUSE_BASE_URL`.

use super::Mail;

pub fn verify_email(base: &str, to: &str, name: &str, token: &str) -> Mail {
    let link = format!("{base}/api/auth/verify-email?token={token}");
    Mail {
        to: to.to_string(),
        subject: "Verify your email address".into(),
        body: format!(
            "Hello {name},\n\nPlease confirm your email address by opening this link:\n\n{link}\n\nThe link is valid for 24 hours and works once. If you did not create a Gatehouse account, ignore this message.\n"
        ),
    }
}

pub fn password_reset(base: &str, to: &str, name: &str, token: &str) -> Mail {
    let link = format!("{base}/reset-password?token={token}");
    Mail {
        to: to.to_string(),
        subject: "Reset your password".into(),
        body: format!(
            "Hello {name},\n\nSomeone asked to reset the password of your Gatehouse account. To choose a new password, open this link:\n\n{link}\n\nThe link is valid for 1 hour and works once. If it was not you, ignore this message: your password is unchanged.\n"
        ),
    }
}

pub fn invitation(base: &str, to: &str, inviter: &str, org: &str, role: &str, token: &str) -> Mail {
    let link = format!("{base}/invites/{token}");
    Mail {
        to: to.to_string(),
        subject: format!("You are invited to join {org} on Gatehouse"),
        body: format!(
            "Hello,\n\n{inviter} invited you to join {org} as {role}. To accept, open this link and sign in (or sign up) with this email address:\n\n{link}\n\nThe invitation is valid for 7 days and works once. If you did not expect it, ignore this message.\n"
        ),
    }
}
