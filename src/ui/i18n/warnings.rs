//! The warnings at the top of the window and why "Add by address" failed, in the window's
//! language. The English sentences of the engine's warnings are the engine's own (`Display` of
//! `Warning`, `AddFailure`, `LoadWarning`, which the CLI prints too); the window's own are here
//! in both languages. Every kind has its Chinese sentence here, so a new kind does not compile
//! until it is translated.
//!
//! Names, paths and the OS's error messages are put in as they are; the view shows the whole
//! sentence through `text::display`, as it shows every text from outside.

use super::{Lang, Tr};
use crate::events::{AddFailure, Warning};
use crate::identity::IdentityWarning;
use crate::identity::known::KnownDevicesWarning;
use crate::settings::LoadWarning;
use crate::ui::model::Notice;
use crate::ui::worker::WindowWarning;

/// Shown when the window speaks Chinese but no font on this system can draw it (in English).
const NO_CJK_FONT: &str = "Chinese text can't be drawn: no Chinese font is installed. Install one (Debian, \
                           Ubuntu: sudo apt install fonts-noto-cjk; Fedora: google-noto-sans-cjk-fonts) \
                           and restart Ferry, or choose English in Settings.";

impl Tr {
    /// One line of the warnings at the top of the window.
    pub fn notice(&self, notice: &Notice) -> String {
        match notice {
            Notice::Engine(w) => self.warning(w),
            Notice::Settings(w) => match self.0 {
                Lang::En => w.to_string(),
                Lang::ZhCn => zh_settings(w),
            },
            Notice::Window(w) => self.window_warning(w),
            Notice::NotListening { addr, detail } => match self.0 {
                Lang::En => format!(
                    "Couldn't accept transfers on {addr}: {detail}. Is another copy of Ferry already running?"
                ),
                Lang::ZhCn => {
                    format!("无法在 {addr} 上接收传输：{detail}。是不是已经有另一个 Ferry 在运行？")
                }
            },
            Notice::KeyUnusable { detail } => match self.0 {
                Lang::En => format!(
                    "This device's key can't be used ({detail}). Reset the identity (`ferry identity --reset`)."
                ),
                Lang::ZhCn => {
                    format!("此设备的密钥无法使用（{detail}）。请重置身份（`ferry identity --reset`）。")
                }
            },
            Notice::Environment(text) => text.clone(),
            Notice::NoChineseFont => NO_CJK_FONT.to_owned(),
        }
    }

    /// An engine warning (`Event::Warning`).
    pub fn warning(&self, warning: &Warning) -> String {
        match self.0 {
            Lang::En => warning.to_string(),
            Lang::ZhCn => zh_warning(warning),
        }
    }

    /// What the window's own background work could not do.
    pub fn window_warning(&self, warning: &WindowWarning) -> String {
        use WindowWarning as W;
        match (self.0, warning) {
            (Lang::En, W::FileDialog { detail }) => format!("Couldn't open the file dialog: {detail}"),
            (Lang::En, W::NotSaved { path, detail }) => format!("Couldn't save {}: {detail}", path.display()),
            (Lang::En, W::SettingsNotSaved { dir, detail }) => {
                format!("Couldn't save your settings in {}: {detail}", dir.display())
            }
            (Lang::En, W::NotOpened { path, detail }) => {
                format!("Couldn't open {}: {detail}", path.display())
            }
            (Lang::En, W::NotShown { path, detail }) => {
                format!("Couldn't show {} in a file manager: {detail}", path.display())
            }
            (Lang::En, W::IdentityNotReset { dir, detail }) => {
                format!("Couldn't make a new identity in {}: {detail}", dir.display())
            }
            (Lang::ZhCn, W::FileDialog { detail }) => format!("无法打开文件选择窗口：{detail}"),
            (Lang::ZhCn, W::NotSaved { path, detail }) => format!("无法保存 {}：{detail}", path.display()),
            (Lang::ZhCn, W::SettingsNotSaved { dir, detail }) => {
                format!("无法把你的设置保存到 {}：{detail}", dir.display())
            }
            (Lang::ZhCn, W::NotOpened { path, detail }) => format!("无法打开 {}：{detail}", path.display()),
            (Lang::ZhCn, W::NotShown { path, detail }) => {
                format!("无法在文件管理器中显示 {}：{detail}", path.display())
            }
            (Lang::ZhCn, W::IdentityNotReset { dir, detail }) => {
                format!("无法在 {} 中生成新身份：{detail}", dir.display())
            }
        }
    }

    /// "Add by address" did not work: `address` as typed, and why.
    pub fn add_failed(&self, address: &str, reason: &AddFailure) -> String {
        match self.0 {
            Lang::En => format!("Couldn't add {address}: {reason}"),
            Lang::ZhCn => format!("无法添加 {address}：{}", zh_add_failure(reason)),
        }
    }
}

fn zh_warning(warning: &Warning) -> String {
    match warning {
        Warning::DiscoveryUnavailable { detail } => {
            format!("无法自动查找其他设备：{detail}。你仍然可以按地址添加设备。")
        }
        Warning::ReceiveFolder { path, detail } => {
            format!("无法创建接收文件夹 {}：{detail}。接收文件之前，请选择其他文件夹。", path.display())
        }
        Warning::NewReceiveFolder { path, detail } => {
            format!("无法创建接收文件夹 {}：{detail}", path.display())
        }
        Warning::LocalSendServer { detail } => {
            format!("装有 LocalSend 的手机无法向这台电脑发送文件：{detail}")
        }
        Warning::LocalSendDiscovery { detail } => format!(
            "装有 LocalSend 的手机无法自动找到这台电脑：{detail}。它们仍然可以按地址向这台电脑发送文件。"
        ),
        Warning::OlderSender { name: Some(name), ip } => {
            format!("“{name}”（{ip}）想给你发送文件，但它的 Ferry 版本较旧。请把两台都更新到最新版本。")
        }
        Warning::OlderSender { name: None, ip } => {
            format!("地址为 {ip} 的电脑想给你发送文件，但它的 Ferry 版本较旧。请把两台都更新到最新版本。")
        }
        Warning::Identity(w) => zh_identity(w),
        Warning::KnownDevices(w) => zh_known(w),
    }
}

fn zh_identity(warning: &IdentityWarning) -> String {
    match warning {
        IdentityWarning::Replaced { dir, why, save_failed } => {
            let mut said = format!(
                "{} 中此设备的密钥无法使用（{why}），所以 Ferry 生成了一个新密钥。认识此设备的其他设备会把它当作新设备。",
                dir.display()
            );
            if let Some(e) = save_failed {
                said.push_str(&format!("保存新密钥也失败了：{e}"));
            }
            said
        }
        IdentityWarning::NotSaved { dir, detail } => {
            format!(
                "Ferry 无法把此设备的密钥保存到 {}（{detail}）；每次启动时它都会是一台新设备。",
                dir.display()
            )
        }
        IdentityWarning::ThisRunOnly { detail } => {
            format!("无法保存此设备的密钥（{detail}）；重新启动后，其他设备会把它当作新设备。")
        }
    }
}

fn zh_known(warning: &KnownDevicesWarning) -> String {
    match warning {
        KnownDevicesWarning::Unreadable { path, detail } => {
            format!("无法读取已知设备列表 {}（{detail}）。", path.display())
        }
        KnownDevicesWarning::Corrupt { path, aside, detail } => format!(
            "无法读取已知设备列表 {}，所以 Ferry 将从空列表开始：在你核对过一次验证码之前，每台设备都会被当作新设备\
             （旧文件已保留为 {}）。详细信息：{detail}",
            path.display(),
            aside.display()
        ),
        KnownDevicesWarning::EntriesDropped { path, count } => {
            format!("已知设备列表 {} 中有 {count} 个条目无效，已被忽略。", path.display())
        }
        KnownDevicesWarning::NotSaved { detail } => format!("无法保存已知设备列表：{detail}"),
    }
}

fn zh_settings(warning: &LoadWarning) -> String {
    match warning {
        // The parser's detail last, as in English; a failed save of the defaults before it.
        LoadWarning::Corrupt { path, aside, detail, save_failed } => {
            let mut said = format!(
                "无法读取你的设置文件 {}，所以 Ferry 使用默认设置启动了（旧文件已保留为 {}）。",
                path.display(),
                aside.display()
            );
            if let Some(e) = save_failed {
                said.push_str(&format!("保存新设置也失败了：{e}。"));
            }
            said.push_str(&format!("详细信息：{detail}"));
            said
        }
        LoadWarning::Unreadable { path, detail } => {
            format!("无法读取你的设置文件 {}（{detail}），所以 Ferry 使用默认设置启动了。", path.display())
        }
        LoadWarning::NotCreated { dir, detail } => format!("无法把设置保存到 {}：{detail}", dir.display()),
    }
}

fn zh_add_failure(reason: &AddFailure) -> String {
    match reason {
        AddFailure::NotAnAddress { address, detail } => {
            format!(
                "“{address}”不是 Ferry 能使用的地址（{detail}）。请按 192.168.1.20:53531 这样的格式填写。"
            )
        }
        AddFailure::Unresolved { address } => format!("找不到“{address}”对应的地址。"),
        AddFailure::NoConnection { addr, detail } => {
            format!("无法连接到 {addr}：{detail}。那台设备上的 Ferry 打开了吗？")
        }
        AddFailure::NotFerry { addr } => format!("{addr} 有应答，但它不是 Ferry 设备。"),
        AddFailure::NoAnswer { addr } => format!("{addr} 没有及时应答。"),
        AddFailure::OlderFerry { addr } => {
            format!("{addr}：另一台电脑上的 Ferry 版本较旧。请把两台都更新到最新版本。")
        }
        AddFailure::NoCommonVersion { addr } => {
            format!("{addr}：另一台电脑上的 Ferry 版本无法与这台通信。请把两台都更新到最新版本。")
        }
        AddFailure::Busy { addr } => format!("{addr}：另一台电脑现在太忙。请稍后再试。"),
        AddFailure::UnexpectedKey { addr } => {
            format!("{addr}：这不是你预期的设备，它的密钥不同，所以什么都没有发送。")
        }
        AddFailure::NotProven { addr } => {
            format!("{addr}：另一台电脑无法证明自己是哪台设备，所以什么都没有发送。")
        }
        AddFailure::SecureConnectionFailed { addr } => {
            format!("{addr}：与另一台电脑的安全连接失败了，所以什么都没有发送。")
        }
        AddFailure::ConnectionLost { addr } => format!("{addr}：还没发送任何内容，连接就断开了。"),
        AddFailure::Broken { detail } => format!("连接出错：{detail}"),
        AddFailure::CantTalk { addr, detail } => format!("无法与 {addr} 通信：{detail}"),
        AddFailure::FailedSecurityCheck { addr } => {
            format!("{addr} 有应答，但没有通过安全检查（它的 HELLO 报出的是另一个密钥）。")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::path::PathBuf;

    use super::*;

    fn has_chinese(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    /// Every kind of line the warnings at the top can show, with made-up details.
    fn every_notice() -> Vec<Notice> {
        let dir = PathBuf::from("/home/anna/.config/ferry");
        let file = dir.join("known-devices.toml");
        let detail = || "Permission denied (os error 13)".to_owned();
        let engine = [
            Warning::DiscoveryUnavailable { detail: detail() },
            Warning::ReceiveFolder { path: "/media/usb".into(), detail: detail() },
            Warning::NewReceiveFolder { path: "/media/usb".into(), detail: detail() },
            Warning::LocalSendServer { detail: detail() },
            Warning::LocalSendDiscovery { detail: detail() },
            Warning::OlderSender { name: Some("Old PC".into()), ip: "192.0.2.9".parse().unwrap() },
            Warning::OlderSender { name: None, ip: "192.0.2.9".parse().unwrap() },
            Warning::Identity(IdentityWarning::Replaced {
                dir: dir.clone(),
                why: "bad".into(),
                save_failed: Some(detail()),
            }),
            Warning::Identity(IdentityWarning::NotSaved { dir: dir.clone(), detail: detail() }),
            Warning::Identity(IdentityWarning::ThisRunOnly { detail: detail() }),
            Warning::KnownDevices(KnownDevicesWarning::Unreadable { path: file.clone(), detail: detail() }),
            Warning::KnownDevices(KnownDevicesWarning::Corrupt {
                path: file.clone(),
                aside: dir.join("known-devices.toml.bad"),
                detail: "x".into(),
            }),
            Warning::KnownDevices(KnownDevicesWarning::EntriesDropped { path: file.clone(), count: 2 }),
            Warning::KnownDevices(KnownDevicesWarning::NotSaved { detail: detail() }),
        ];
        let window = [
            WindowWarning::FileDialog { detail: detail() },
            WindowWarning::NotSaved { path: dir.join("history.json"), detail: detail() },
            WindowWarning::SettingsNotSaved { dir: dir.clone(), detail: detail() },
            WindowWarning::NotOpened { path: "/home/anna/Ferry".into(), detail: detail() },
            WindowWarning::NotShown { path: "/home/anna/Ferry/a.jpg".into(), detail: detail() },
            WindowWarning::IdentityNotReset { dir: dir.clone(), detail: detail() },
        ];
        let settings = [
            LoadWarning::Corrupt {
                path: dir.join("settings.toml"),
                aside: dir.join("settings.toml.bad"),
                detail: "x".into(),
                save_failed: Some(detail()),
            },
            LoadWarning::Unreadable { path: dir.join("settings.toml"), detail: detail() },
            LoadWarning::NotCreated { dir: dir.clone(), detail: detail() },
        ];
        engine
            .into_iter()
            .map(Notice::Engine)
            .chain(window.into_iter().map(Notice::Window))
            .chain(settings.into_iter().map(Notice::Settings))
            .chain([
                Notice::NotListening { addr: "0.0.0.0:53531".parse().unwrap(), detail: detail() },
                Notice::KeyUnusable { detail: detail() },
            ])
            .collect()
    }

    fn every_add_failure() -> Vec<AddFailure> {
        let addr: SocketAddr = "192.0.2.7:53531".parse().unwrap();
        let detail = || "Connection refused (os error 111)".to_owned();
        vec![
            AddFailure::NotAnAddress { address: "kitchen".into(), detail: detail() },
            AddFailure::Unresolved { address: "kitchen".into() },
            AddFailure::NoConnection { addr, detail: detail() },
            AddFailure::NotFerry { addr },
            AddFailure::NoAnswer { addr },
            AddFailure::OlderFerry { addr },
            AddFailure::NoCommonVersion { addr },
            AddFailure::Busy { addr },
            AddFailure::UnexpectedKey { addr },
            AddFailure::NotProven { addr },
            AddFailure::SecureConnectionFailed { addr },
            AddFailure::ConnectionLost { addr },
            AddFailure::Broken { detail: detail() },
            AddFailure::CantTalk { addr, detail: detail() },
            AddFailure::FailedSecurityCheck { addr },
        ]
    }

    /// Each kind is said in Chinese in a Chinese window (with its details kept), and in English
    /// the engine's own sentence.
    #[test]
    fn every_warning_is_said_in_both_languages() {
        let (en, zh) = (Tr(Lang::En), Tr(Lang::ZhCn));
        for notice in every_notice() {
            let (english, chinese) = (en.notice(&notice), zh.notice(&notice));
            match &notice {
                Notice::Engine(w) => assert_eq!(english, w.to_string()),
                Notice::Settings(w) => assert_eq!(english, w.to_string()),
                _ => assert!(!has_chinese(&english), "{notice:?}: {english}"),
            }
            assert!(has_chinese(&chinese), "{notice:?}: {chinese}");
            assert!(!chinese.contains("Couldn't") && !chinese.contains(" the "), "{notice:?}: {chinese}");
            for kept in
                ["Permission denied (os error 13)", "/home/anna", "192.0.2.9", "Old PC", "0.0.0.0:53531"]
            {
                assert_eq!(english.contains(kept), chinese.contains(kept), "{kept} in {notice:?}: {chinese}");
            }
        }
        for reason in every_add_failure() {
            assert_eq!(en.add_failed("kitchen", &reason), format!("Couldn't add kitchen: {reason}"));
            let chinese = zh.add_failed("kitchen", &reason);
            assert!(has_chinese(&chinese.replace("无法添加", "")), "{reason:?}: {chinese}");
            assert!(!chinese.contains("The other") && !chinese.contains("answer"), "{reason:?}: {chinese}");
        }
    }

    /// The English sentence the window shows for a failed engine start is the engine's own.
    #[test]
    fn a_failed_start_reads_as_the_engine_says_it() {
        let en = Tr(Lang::En);
        let listen = crate::engine::StartError::Listen {
            addr: "0.0.0.0:53531".parse().unwrap(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        let said = listen.to_string();
        assert_eq!(en.notice(&Notice::from(listen)), said);
        let key = crate::engine::StartError::Identity("no signing".into());
        let said = key.to_string();
        assert_eq!(en.notice(&Notice::from(key)), said);
    }

    /// Without a Chinese font, the note about it must stay readable.
    #[test]
    fn the_missing_font_is_said_in_english_in_a_chinese_window() {
        assert_eq!(Tr(Lang::ZhCn).notice(&Notice::NoChineseFont), NO_CJK_FONT);
    }
}
