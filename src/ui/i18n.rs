//! Every word the window shows, in English and Simplified Chinese. The language follows the
//! system locale unless the person picks one in Settings.
//!
//! Each string is a method on [`Tr`] so a missing translation is a compile error, not a blank
//! label. Messages from the engine (transfer errors) stay in English: they come with their own
//! plain-language text.

use crate::settings::Language;

/// A language the window speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

impl Lang {
    /// What the person chose, with "System" resolved through the system locale.
    pub fn resolve(choice: Language) -> Lang {
        match choice {
            Language::English => Lang::En,
            Language::SimplifiedChinese => Lang::ZhCn,
            Language::System => Lang::from_locale(sys_locale::get_locale().as_deref()),
        }
    }

    /// Any Chinese locale gets the Chinese strings (we have no Traditional ones yet); everything
    /// else English.
    pub fn from_locale(locale: Option<&str>) -> Lang {
        match locale {
            Some(l) if l.to_ascii_lowercase().starts_with("zh") => Lang::ZhCn,
            _ => Lang::En,
        }
    }
}

/// Picks the string for the current language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tr(pub Lang);

/// Declares methods returning a fixed string per language.
macro_rules! fixed {
    ($($name:ident => $en:literal, $zh:literal;)*) => {
        impl Tr {
            $(
                pub fn $name(&self) -> &'static str {
                    match self.0 {
                        Lang::En => $en,
                        Lang::ZhCn => $zh,
                    }
                }
            )*
        }
    };
}

fixed! {
    starting => "Starting…", "正在启动…";
    not_receiving => "Not receiving: see the message above.", "无法接收文件：请看上方的提示。";
    devices_nearby => "Devices nearby", "附近的设备";
    searching => "Looking for devices on this network…", "正在查找此网络上的设备…";
    search_again => "Search again", "重新搜索";
    add_by_address => "Add by address…", "按地址添加…";
    address => "Address", "地址";
    address_hint => "e.g. 192.168.1.20:53531", "例如 192.168.1.20:53531";
    add => "Add", "添加";
    adding => "Connecting…", "正在连接…";
    cancel => "Cancel", "取消";
    remembered => "Remembered devices", "记住的设备";
    not_reachable => "not reachable right now", "暂时无法连接";
    try_connect => "Connect", "连接";
    forget => "Forget", "忘记";
    send_files => "Send files", "发送文件";
    choose_photos => "Choose photos…", "选择照片…";
    choose_folder => "Choose folder…", "选择文件夹…";
    clear_all => "Clear all", "全部清除";
    drop_hint => "Or drag files and folders onto this window.", "也可以把文件和文件夹拖到此窗口。";
    drop_here => "Drop to add them", "松开即可添加";
    measuring => "measuring…", "正在计算…";
    pick_device_first => "Choose a device on the left to send to.", "请先在左侧选择要发送到的设备。";
    pick_files_first => "Choose some files to send.", "请选择要发送的文件。";
    receive_folder => "Receive folder", "接收文件夹";
    change => "Change…", "更改…";
    settings => "Settings", "设置";
    back => "Back", "返回";
    accept => "Accept", "接收";
    decline => "Decline", "拒绝";
    choose_files => "Choose files…", "选择文件…";
    select_all => "Select all", "全选";
    not_enough_space => "Not enough free space for all of it.", "剩余空间不够存放全部文件。";
    transfers => "Transfers", "传输";
    no_transfers => "Nothing sent or received yet.", "还没有发送或接收过文件。";
    waiting_answer => "Waiting for the other computer to accept…", "正在等待对方接收…";
    starting_transfer => "Starting…", "正在开始…";
    open_folder => "Open folder", "打开文件夹";
    open_receive_folder => "Open the receive folder", "打开接收文件夹";
    show_file => "Show file", "显示文件";
    try_again => "Try again", "重试";
    dismiss => "Dismiss", "关闭";
    declined => "The other computer declined.", "对方拒绝了。";
    busy => "The other computer is busy right now. Try again in a moment.", "对方正忙，请稍后再试。";
    cancelled => "Cancelled.", "已取消。";
    cancelled_by_peer => "Cancelled by the other computer.", "对方取消了传输。";
    history => "Recent transfers", "最近的传输";
    clear_history => "Clear history", "清除记录";
    device_name => "Device name", "设备名称";
    device_name_help => "What other devices show for this computer.", "其他设备看到的此电脑的名称。";
    accept_automatically => "Accept files automatically (without asking)", "自动接收文件（不询问）";
    ports => "Ports (advanced)", "端口（高级）";
    transfer_port => "Transfer port (TCP)", "传输端口 (TCP)";
    discovery_port => "Discovery port (UDP)", "发现端口 (UDP)";
    ports_next_start => "Port changes take effect the next time Ferry starts.", "端口更改将在下次启动 Ferry 时生效。";
    language => "Language", "语言";
    theme => "Theme", "主题";
    system => "System", "跟随系统";
    light => "Light", "浅色";
    dark => "Dark", "深色";
    remove => "Remove", "移除";
    folder => "Folder", "文件夹";
    unreadable => "can't be read", "无法读取";
}

impl Tr {
    pub fn visible_as(&self, name: &str) -> String {
        match self.0 {
            Lang::En => format!("Visible as “{name}”"),
            Lang::ZhCn => format!("显示为“{name}”"),
        }
    }

    pub fn at_address(&self, addr: &str) -> String {
        match self.0 {
            Lang::En => format!("at {addr}"),
            Lang::ZhCn => format!("地址 {addr}"),
        }
    }

    pub fn firewall_hint(&self, discovery_port: u16, transfer_port: u16) -> String {
        match self.0 {
            Lang::En => format!(
                "Open Ferry on the other computer too, on the same Wi-Fi or network. If it still doesn't show \
                 up, a firewall may be blocking Ferry: allow UDP port {discovery_port} and TCP port \
                 {transfer_port}, or add the other computer by its address."
            ),
            Lang::ZhCn => format!(
                "请在另一台电脑上也打开 Ferry，并连接到同一个 Wi-Fi 或网络。如果仍然看不到，可能是防火墙拦截了 \
                 Ferry：请允许 UDP 端口 {discovery_port} 和 TCP 端口 {transfer_port}，或按地址添加对方。"
            ),
        }
    }

    pub fn add_failed(&self, address: &str, reason: &str) -> String {
        match self.0 {
            Lang::En => format!("Couldn't add {address}: {reason}"),
            Lang::ZhCn => format!("无法添加 {address}：{reason}"),
        }
    }

    pub fn files_and_size(&self, files: u64, size: &str) -> String {
        match (self.0, files) {
            (Lang::En, 1) => format!("1 file, {size}"),
            (Lang::En, n) => format!("{n} files, {size}"),
            (Lang::ZhCn, n) => format!("{n} 个文件，共 {size}"),
        }
    }

    pub fn send_to(&self, device: &str) -> String {
        match self.0 {
            Lang::En => format!("Send to {device}"),
            Lang::ZhCn => format!("发送到 {device}"),
        }
    }

    pub fn remove_named(&self, name: &str) -> String {
        match self.0 {
            Lang::En => format!("Remove {name}"),
            Lang::ZhCn => format!("移除 {name}"),
        }
    }

    pub fn offer_title(&self, sender: &str, files: usize) -> String {
        match (self.0, files) {
            (Lang::En, 1) => format!("“{sender}” wants to send you a file"),
            (Lang::En, n) => format!("“{sender}” wants to send you {n} files"),
            (Lang::ZhCn, n) => format!("“{sender}”想发送 {n} 个文件给你"),
        }
    }

    pub fn total(&self, size: &str) -> String {
        match self.0 {
            Lang::En => format!("Total: {size}"),
            Lang::ZhCn => format!("总计：{size}"),
        }
    }

    pub fn free_space(&self, size: &str) -> String {
        match self.0 {
            Lang::En => format!("Free space in your receive folder: {size}"),
            Lang::ZhCn => format!("接收文件夹的剩余空间：{size}"),
        }
    }

    pub fn accept_some(&self, chosen: usize, of: usize) -> String {
        match self.0 {
            Lang::En => format!("Accept {chosen} of {of}"),
            Lang::ZhCn => format!("接收 {chosen}/{of} 个"),
        }
    }

    pub fn more_waiting(&self, n: usize) -> String {
        match (self.0, n) {
            (Lang::En, 1) => "1 more offer is waiting.".to_owned(),
            (Lang::En, n) => format!("{n} more offers are waiting."),
            (Lang::ZhCn, n) => format!("还有 {n} 个请求在等待。"),
        }
    }

    pub fn to_peer(&self, name: &str) -> String {
        match self.0 {
            Lang::En => format!("To {name}"),
            Lang::ZhCn => format!("发送给 {name}"),
        }
    }

    pub fn from_peer(&self, name: &str) -> String {
        match self.0 {
            Lang::En => format!("From {name}"),
            Lang::ZhCn => format!("来自 {name}"),
        }
    }

    /// "12.0 MB of 40.0 MB · 5.1 MB/s · 6 s left"
    pub fn progress(&self, done: &str, total: &str, speed: Option<&str>, left: Option<&str>) -> String {
        let mut s = match self.0 {
            Lang::En => format!("{done} of {total}"),
            Lang::ZhCn => format!("{done} / {total}"),
        };
        if let Some(speed) = speed {
            s.push_str(&format!(" · {speed}/s"));
        }
        if let Some(left) = left {
            match self.0 {
                Lang::En => s.push_str(&format!(" · {left} left")),
                Lang::ZhCn => s.push_str(&format!(" · 还剩 {left}")),
            }
        }
        s
    }

    /// A duration for "time left": "45 s", "3 min 20 s", "1 h 5 min".
    pub fn duration(&self, secs: u64) -> String {
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        let (uh, um, us) = match self.0 {
            Lang::En => ("h", "min", "s"),
            Lang::ZhCn => ("小时", "分", "秒"),
        };
        if h > 0 {
            format!("{h} {uh} {m} {um}")
        } else if m > 0 {
            format!("{m} {um} {s} {us}")
        } else {
            format!("{s} {us}")
        }
    }

    pub fn progress_name(&self, peer: &str) -> String {
        match self.0 {
            Lang::En => format!("Progress of the transfer with {peer}"),
            Lang::ZhCn => format!("与 {peer} 的传输进度"),
        }
    }

    pub fn current_file(&self, name: &str) -> String {
        match self.0 {
            Lang::En => format!("Now: {name}"),
            Lang::ZhCn => format!("正在传输：{name}"),
        }
    }

    pub fn finished(&self, saved: u32, total: u32, received: bool) -> String {
        match (self.0, received, saved == total) {
            (Lang::En, true, true) => format!("Done: {saved} of {total} saved."),
            (Lang::En, false, true) => format!("Done: {saved} of {total} delivered."),
            (Lang::En, _, false) => format!("Finished with problems: {saved} of {total} files arrived."),
            (Lang::ZhCn, true, true) => format!("完成：已保存 {saved}/{total} 个文件。"),
            (Lang::ZhCn, false, true) => format!("完成：已送达 {saved}/{total} 个文件。"),
            (Lang::ZhCn, _, false) => format!("已结束，但有问题：{saved}/{total} 个文件送达。"),
        }
    }

    pub fn history_line(&self, received: bool, peer: &str, files: u32, size: &str) -> String {
        match (self.0, received) {
            (Lang::En, true) => format!("Received {files} files ({size}) from {peer}"),
            (Lang::En, false) => format!("Sent {files} files ({size}) to {peer}"),
            (Lang::ZhCn, true) => format!("从 {peer} 接收了 {files} 个文件（{size}）"),
            (Lang::ZhCn, false) => format!("向 {peer} 发送了 {files} 个文件（{size}）"),
        }
    }

    pub fn failed(&self, reason: &str) -> String {
        match self.0 {
            Lang::En => format!("Failed: {reason}"),
            Lang::ZhCn => format!("失败：{reason}"),
        }
    }

    pub fn folder_summary(&self, files: u64, size: &str) -> String {
        match self.0 {
            Lang::En => format!("folder, {files} files, {size}"),
            Lang::ZhCn => format!("文件夹，{files} 个文件，{size}"),
        }
    }
}

/// A byte count for people: "0 B", "999 B", "1.2 kB", "34.5 MB", "2.10 GB" (decimal units, as
/// file managers on every platform show them).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else if value >= 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_234), "1.23 kB");
        assert_eq!(human_size(34_500_000), "34.5 MB");
        assert_eq!(human_size(2_100_000_000), "2.10 GB");
        assert_eq!(human_size(u64::MAX), "18447 PB");
    }

    #[test]
    fn chinese_locales_pick_chinese() {
        assert_eq!(Lang::from_locale(Some("zh-CN")), Lang::ZhCn);
        assert_eq!(Lang::from_locale(Some("zh_TW.UTF-8")), Lang::ZhCn);
        assert_eq!(Lang::from_locale(Some("en-US")), Lang::En);
        assert_eq!(Lang::from_locale(None), Lang::En);
    }

    #[test]
    fn durations() {
        let tr = Tr(Lang::En);
        assert_eq!(tr.duration(5), "5 s");
        assert_eq!(tr.duration(200), "3 min 20 s");
        assert_eq!(tr.duration(3900), "1 h 5 min");
        assert_eq!(Tr(Lang::ZhCn).duration(61), "1 分 1 秒");
    }
}
