//! Strings for LocalSend devices, device trust and the identity parts of Settings (kept apart
//! from the main list so the window's other strings can grow without touching these).

use super::{Lang, Tr};
use crate::events::DeviceType;

fixed! {
    localsend_mark => "LocalSend", "LocalSend";
    localsend_setting => "Let phones with LocalSend send and receive", "允许装有 LocalSend 的手机收发文件";
    localsend_help => "Phones running the free LocalSend app see this computer and can send photos to it. \
                       They find it only if the firewall allows UDP and TCP port 53317.",
                      "装有免费 LocalSend 应用的手机可以看到这台电脑并向它发送照片。\
                       防火墙需要放行 UDP 和 TCP 端口 53317，手机才能找到它。";
    known_mark => "known", "已知";
    new_mark => "new", "新设备";
    this_device => "This device", "此设备";
    fingerprint => "Fingerprint", "指纹";
    fingerprint_help => "Other devices recognise this computer by this key, whatever it is called.",
                        "其他设备凭这个密钥认出这台电脑，与名称无关。";
    reset_identity => "Reset identity…", "重置身份…";
    reset_identity_question => "Make a new identity for this computer?", "为这台电脑生成新的身份？";
    reset_identity_explained => "Devices that know this computer will no longer recognise it: they show it \
                                 as a device they have not met and warn that it is not the one they knew. \
                                 The new identity takes effect the next time Ferry starts.",
                                "认识这台电脑的设备将不再认出它：它们会把它当作没见过的设备，并提示它不是以前的那台。\
                                 新身份将在下次启动 Ferry 时生效。";
    reset_identity_confirm => "Make a new identity", "生成新身份";
    identity_reset_done => "A new identity was made. It takes effect the next time Ferry starts.",
                           "已生成新身份，将在下次启动 Ferry 时生效。";
    known_devices => "Known devices", "已知设备";
    no_known_devices => "None yet. A device is remembered after a transfer with it.",
                        "还没有。与某台设备传输过文件后，它会被记住。";
    always_accept => "Always accept from this device", "始终接收来自此设备的文件";
    forget_old_help => "Tick this only if you know it replaces the old one (it was reset, or is a new computer). \
                        Accepting then forgets the old device.",
                       "只有在你确定它取代了以前那台（重置过，或是一台新电脑）时才勾选。接收后会忘记以前那台设备。";
    rename => "Rename", "重命名";
    shown_name => "Shown name", "显示名称";
    save => "Save", "保存";
}

impl Tr {
    /// What kind of LocalSend device it is, for the accessible name ("LocalSend phone").
    pub fn device_type(&self, t: DeviceType) -> &'static str {
        match (self.0, t) {
            (Lang::En, DeviceType::Mobile) => "phone",
            (Lang::En, DeviceType::Desktop) => "computer",
            (Lang::En, DeviceType::Web) => "web browser",
            (Lang::En, DeviceType::Headless) => "command-line program",
            (Lang::En, DeviceType::Server) => "server",
            (Lang::ZhCn, DeviceType::Mobile) => "手机",
            (Lang::ZhCn, DeviceType::Desktop) => "电脑",
            (Lang::ZhCn, DeviceType::Web) => "网页浏览器",
            (Lang::ZhCn, DeviceType::Headless) => "命令行程序",
            (Lang::ZhCn, DeviceType::Server) => "服务器",
        }
    }

    /// "LocalSend phone", as a screen reader says what a device is.
    pub fn localsend_device(&self, t: DeviceType) -> String {
        match self.0 {
            Lang::En => format!("LocalSend {}", self.device_type(t)),
            Lang::ZhCn => format!("LocalSend {}", self.device_type(t)),
        }
    }

    /// When a known device was last seen, `ago` already made readable.
    pub fn last_seen(&self, ago: &str) -> String {
        match self.0 {
            Lang::En => format!("last seen {ago}"),
            Lang::ZhCn => format!("上次见到：{ago}"),
        }
    }

    /// The prompt of a changed device: accepting also forgets the known device it looks like.
    pub fn forget_old(&self, name: &str) -> String {
        match self.0 {
            Lang::En => format!("Forget the old \u{2018}{name}\u{2019}"),
            Lang::ZhCn => format!("忘记以前的“{name}”"),
        }
    }

    /// The (cleaned) name of a device whose key is not the one known under that name.
    pub fn changed_warning(&self, name: &str) -> String {
        match self.0 {
            Lang::En => crate::identity::known::changed_warning(name),
            Lang::ZhCn => format!("这不是你以前发送过的“{name}”。"),
        }
    }

    pub fn forget_device(&self, name: &str) -> String {
        match self.0 {
            Lang::En => format!("Forget {name}"),
            Lang::ZhCn => format!("忘记 {name}"),
        }
    }
}
