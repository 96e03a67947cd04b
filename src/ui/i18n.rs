//! Every word the window shows, in English and Simplified Chinese. The language follows the
//! system locale unless the person picks one in Settings.
//!
//! Each string is a method on [`Tr`] so a missing translation is a compile error, not a blank
//! label. What the engine and the window's background work report is data, translated here
//! from its kind: why a transfer failed from `TransferError` (errors.rs); the warnings at the top
//! of the window (`Notice`: the engine's `Warning`s, the settings file's `LoadWarning`, the
//! window's own `WindowWarning`s) and why "Add by address" failed (`AddFailure`) in warnings.rs.
//! The English of an engine kind is its `Display`, the sentence the CLI prints. Only two lines
//! stay English in a Chinese window: a `FERRY_*` variable that could not be used (for whoever set
//! it) and the note that no Chinese font is installed (Chinese would be boxes).

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

mod devices;
mod errors;
mod warnings;

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
    choose_photos => "Choose photos and videos…", "选择照片和视频…";
    choose_any_files => "Choose files…", "选择文件…";
    photos_and_videos => "Photos and videos", "照片和视频";
    all_files => "All files", "所有文件";
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
    select_none => "Select none", "全不选";
    change_folder => "Change folder…", "更改文件夹…";
    clear_finished => "Clear finished", "清除已结束的";
    close_question => "Transfers are still under way", "还有传输正在进行";
    close_anyway => "Stop them and close", "停止传输并关闭";
    keep_open => "Keep Ferry open", "保持 Ferry 打开";
    empty_folder => "empty folder: left out", "空文件夹：不会发送";
    gone => "can't be read: it is no longer there", "无法读取：它已经不在了";
    no_permission => "can't be read: no permission", "无法读取：没有权限";
    nothing_readable => "Nothing of what you chose can be read.", "所选的内容都无法读取。";
    today => "Today", "今天";
    yesterday => "Yesterday", "昨天";
    main_window => "Ferry: send and receive files", "Ferry：发送和接收文件";
    device_list => "Devices nearby, list", "附近的设备列表";
    chosen_list => "Files to send, list", "要发送的文件列表";
    transfers_list => "Transfers and recent transfers, list", "传输和最近的传输列表";
    offer_list => "Offered files, list", "对方提供的文件列表";
    settings_page => "Settings page", "设置页面";
    not_enough_space => "Not enough free space for all of it.", "剩余空间不够存放全部文件。";
    transfers => "Transfers", "传输";
    no_transfers => "Nothing sent or received yet.", "还没有发送或接收过文件。";
    waiting_answer => "Waiting for the other computer to accept…", "正在等待对方接收…";
    verification_code => "Verification code:", "验证码：";
    check_same_number => "Check that the other screen shows the same number.", "请确认对方屏幕上显示的是同一个数字。";
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
    closed_here => "Stopped: Ferry was closed.", "已停止：Ferry 被关闭了。";
    history => "Recent transfers", "最近的传输";
    clear_history => "Clear history", "清除记录";
    device_name => "Device name", "设备名称";
    device_name_help => "What other devices show for this computer.", "其他设备看到的此电脑的名称。";
    accept_automatically_hint => "To accept files from a device without being asked, tick “Always accept from this device” when it sends, or under Known devices.",
                                 "要不经询问就接收某台设备的文件，请在它发送时或在“已知设备”中勾选“始终接收来自此设备的文件”。";
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
    send_text_open => "Send text…", "发送文字…";
    text_hint => "A link, a Wi-Fi password, an address…", "链接、Wi-Fi 密码、地址…";
    text_box_name => "Text to send", "要发送的文字";
    copy => "Copy", "复制";
    copied => "Copied", "已复制";
    text_delivered => "Delivered: the text was accepted.", "已送达：对方接收了这段文字。";
    offered_text => "Offered text", "对方提供的文字";
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

    /// Under a file name in the prompt when it will be saved under another name.
    pub fn sent_as(&self, original: &str) -> String {
        match self.0 {
            Lang::En => format!("Sent as “{original}”"),
            Lang::ZhCn => format!("发送方的文件名：“{original}”"),
        }
    }

    pub fn name_not_allowed(&self) -> &'static str {
        match self.0 {
            Lang::En => "This file can't be saved: its name is not allowed.",
            Lang::ZhCn => "无法保存此文件：文件名不被允许。",
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

    pub fn files_count(&self, files: u64) -> String {
        match (self.0, files) {
            (Lang::En, 1) => "1 file".to_owned(),
            (Lang::En, n) => format!("{n} files"),
            (Lang::ZhCn, n) => format!("{n} 个文件"),
        }
    }

    /// "Total: 2 of 5 files, 3.00 MB" while only some files of an offer are chosen.
    pub fn total_selected(&self, chosen: usize, of: usize, size: &str) -> String {
        match self.0 {
            Lang::En if of == 1 => format!("Total: {chosen} of 1 file, {size}"),
            Lang::En => format!("Total: {chosen} of {of} files, {size}"),
            Lang::ZhCn => format!("总计：{chosen}/{of} 个文件，共 {size}"),
        }
    }

    /// Under the send list when some chosen paths will not be sent.
    pub fn left_out(&self, n: usize) -> String {
        match (self.0, n) {
            (Lang::En, 1) => "1 item can't be sent and will be left out.".to_owned(),
            (Lang::En, n) => format!("{n} items can't be sent and will be left out."),
            (Lang::ZhCn, n) => format!("有 {n} 项无法发送，将不包含在内。"),
        }
    }

    pub fn close_explained(&self, n: usize) -> String {
        match (self.0, n) {
            (Lang::En, 1) => {
                "Closing Ferry stops 1 transfer. Nothing half-received is kept; the other computer is told."
                    .to_owned()
            }
            (Lang::En, n) => format!(
                "Closing Ferry stops {n} transfers. Nothing half-received is kept; the other computers are told."
            ),
            (Lang::ZhCn, n) => {
                format!("关闭 Ferry 会停止 {n} 个传输。未收完的文件不会保留，对方会收到通知。")
            }
        }
    }

    pub fn closed_on_peer(&self, peer: &str) -> String {
        match self.0 {
            Lang::En => format!("Ferry was closed on {peer}."),
            Lang::ZhCn => format!("{peer} 上的 Ferry 已关闭。"),
        }
    }

    pub fn already_sending(&self, peer: &str) -> String {
        match self.0 {
            Lang::En => format!("These files are on their way to {peer}."),
            Lang::ZhCn => format!("这些文件正在发送到 {peer}。"),
        }
    }

    pub fn waiting_for(&self, peer: &str) -> String {
        match self.0 {
            Lang::En => format!("Waiting for {peer}…"),
            Lang::ZhCn => format!("正在等待 {peer}…"),
        }
    }

    /// Why the receive folder cannot take files, with what to do.
    pub fn cannot_save(&self, problem: &super::worker::SaveProblem, folder: &str) -> String {
        use super::worker::SaveProblem as P;
        let why = match (self.0, problem) {
            (Lang::En, P::Missing) => format!("{folder} is not there (a removed drive?)."),
            (Lang::En, P::NotAFolder(path)) => format!("{} is a file, not a folder.", path.display()),
            (Lang::En, P::NoPermission) => format!("You don't have permission to save in {folder}."),
            (Lang::En, P::ReadOnly) => format!("{folder} is read-only."),
            (Lang::En, P::Full) => format!("The disk that holds {folder} is full."),
            (Lang::En, P::Other(e)) => format!("Ferry can't save in {folder}: {e}."),
            (Lang::ZhCn, P::Missing) => format!("{folder} 不存在（移动硬盘被拔出了？）。"),
            (Lang::ZhCn, P::NotAFolder(path)) => format!("{} 是文件，不是文件夹。", path.display()),
            (Lang::ZhCn, P::NoPermission) => format!("你没有在 {folder} 中保存文件的权限。"),
            (Lang::ZhCn, P::ReadOnly) => format!("{folder} 是只读的。"),
            (Lang::ZhCn, P::Full) => format!("{folder} 所在的磁盘已满。"),
            (Lang::ZhCn, P::Other(e)) => format!("Ferry 无法在 {folder} 中保存文件：{e}。"),
        };
        match self.0 {
            Lang::En => format!("{why} Nothing can be saved there: choose another receive folder."),
            Lang::ZhCn => format!("{why}无法在那里保存文件：请选择其他接收文件夹。"),
        }
    }

    /// What a transfer row is about, for the names screen readers say: "sending 3 files to
    /// Kitchen PC", "receiving 1 file from Anna's laptop".
    pub fn send_text_to(&self, peer: &str) -> String {
        match self.0 {
            Lang::En => format!("Send text to {peer}"),
            Lang::ZhCn => format!("发送文字给 {peer}"),
        }
    }

    pub fn text_too_long(&self, len: usize, max: usize) -> String {
        match self.0 {
            Lang::En => format!("Too long to send: {len} bytes, at most {max}."),
            Lang::ZhCn => format!("太长，无法发送：{len} 字节，最多 {max} 字节。"),
        }
    }

    pub fn offer_text_title(&self, sender: &str) -> String {
        match self.0 {
            Lang::En => format!("“{sender}” wants to send you a text"),
            Lang::ZhCn => format!("“{sender}”想发送一段文字给你"),
        }
    }

    pub fn text_from(&self, peer: &str) -> String {
        match self.0 {
            Lang::En => format!("Text from {peer}"),
            Lang::ZhCn => format!("来自 {peer} 的文字"),
        }
    }

    pub fn copy_text_from(&self, peer: &str) -> String {
        match self.0 {
            Lang::En => format!("Copy the text from {peer}"),
            Lang::ZhCn => format!("复制来自 {peer} 的文字"),
        }
    }

    pub fn dismiss_text_from(&self, peer: &str) -> String {
        match self.0 {
            Lang::En => format!("Dismiss the text from {peer}"),
            Lang::ZhCn => format!("关闭来自 {peer} 的文字"),
        }
    }

    /// What a text transfer is, for buttons' names ("Cancel sending text to Kitchen PC").
    pub fn text_subject(&self, peer: &str) -> String {
        match self.0 {
            Lang::En => format!("sending text to {peer}"),
            Lang::ZhCn => format!("向 {peer} 发送文字"),
        }
    }

    pub fn subject(&self, outgoing: bool, files: u32, peer: &str) -> String {
        let files = self.files_count(u64::from(files));
        match (self.0, outgoing) {
            (Lang::En, true) => format!("sending {files} to {peer}"),
            (Lang::En, false) => format!("receiving {files} from {peer}"),
            (Lang::ZhCn, true) => format!("向 {peer} 发送 {files}"),
            (Lang::ZhCn, false) => format!("从 {peer} 接收 {files}"),
        }
    }

    pub fn cancel_subject(&self, subject: &str) -> String {
        match self.0 {
            Lang::En => format!("Cancel {subject}"),
            Lang::ZhCn => format!("取消{subject}"),
        }
    }

    pub fn retry_subject(&self, subject: &str) -> String {
        match self.0 {
            Lang::En => format!("Try {subject} again"),
            Lang::ZhCn => format!("重试：{subject}"),
        }
    }

    pub fn dismiss_subject(&self, subject: &str) -> String {
        match self.0 {
            Lang::En => format!("Remove {subject} from the list"),
            Lang::ZhCn => format!("从列表中移除：{subject}"),
        }
    }

    pub fn open_folder_of(&self, what: &str) -> String {
        match self.0 {
            Lang::En => format!("Open the folder of {what}"),
            Lang::ZhCn => format!("打开文件夹：{what}"),
        }
    }

    pub fn show_file_of(&self, what: &str) -> String {
        match self.0 {
            Lang::En => format!("Show the file of {what}"),
            Lang::ZhCn => format!("显示文件：{what}"),
        }
    }

    pub fn dismiss_warning(&self, text: &str) -> String {
        let short: String = text.chars().take(60).collect();
        match self.0 {
            Lang::En => format!("Dismiss the message “{short}”"),
            Lang::ZhCn => format!("关闭提示“{short}”"),
        }
    }

    /// "Today 14:05", "Yesterday 09:12", "3 Dec, 14:05", "3 Dec 2025, 14:05".
    pub fn when(&self, at: super::history::LocalTime, now: super::history::LocalTime) -> String {
        const MONTHS: [&str; 12] =
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let clock = format!("{:02}:{:02}", at.hour, at.minute);
        let same_day = |a: super::history::LocalTime, b: super::history::LocalTime| {
            (a.year, a.month, a.day) == (b.year, b.month, b.day)
        };
        let yesterday =
            days_from_civil(now.year, now.month, now.day) - days_from_civil(at.year, at.month, at.day) == 1;
        let month = MONTHS[usize::from(at.month.clamp(1, 12)) - 1];
        match self.0 {
            _ if same_day(at, now) => format!("{} {clock}", self.today()),
            _ if yesterday => format!("{} {clock}", self.yesterday()),
            Lang::En if at.year == now.year => format!("{} {month}, {clock}", at.day),
            Lang::En => format!("{} {month} {}, {clock}", at.day, at.year),
            Lang::ZhCn if at.year == now.year => format!("{}月{}日 {clock}", at.month, at.day),
            Lang::ZhCn => format!("{}年{}月{}日 {clock}", at.year, at.month, at.day),
        }
    }

    /// One line of the history: what happened, in a sentence.
    pub fn history_sentence(&self, entry: &super::history::Entry, size: &str) -> String {
        use super::history::Outcome as O;
        let (peer, files) = (entry.peer.as_str(), self.files_count(u64::from(entry.files)));
        match (self.0, entry.received, &entry.outcome) {
            (Lang::En, true, O::Finished { saved, total }) if saved == total => {
                format!("Received {files} ({size}) from {peer}")
            }
            (Lang::En, false, O::Finished { saved, total }) if saved == total => {
                format!("Sent {files} ({size}) to {peer}")
            }
            (Lang::En, true, O::Finished { saved, total }) => {
                format!("Received {saved} of {} from {peer}", self.files_count(u64::from(*total)))
            }
            (Lang::En, false, O::Finished { saved, total }) => {
                format!("Delivered {saved} of {} to {peer}", self.files_count(u64::from(*total)))
            }
            (Lang::En, true, O::Declined) => format!("You declined {files} from {peer}"),
            (Lang::En, false, O::Declined) => format!("{peer} declined {files}"),
            (Lang::En, true, O::Cancelled { by_peer: false }) => {
                format!("Receiving {files} from {peer} was cancelled")
            }
            (Lang::En, true, O::Cancelled { by_peer: true }) => {
                format!("{peer} cancelled sending you {files}")
            }
            (Lang::En, false, O::Cancelled { by_peer: false }) => {
                format!("Sending {files} to {peer} was cancelled")
            }
            (Lang::En, false, O::Cancelled { by_peer: true }) => {
                format!("{peer} cancelled receiving {files}")
            }
            (Lang::En, true, O::Failed { reason }) => {
                format!("Receiving {files} from {peer} failed: {reason}")
            }
            (Lang::En, false, O::Failed { reason }) => format!("Sending {files} to {peer} failed: {reason}"),
            (Lang::ZhCn, true, O::Finished { saved, total }) if saved == total => {
                format!("从 {peer} 接收了 {files}（{size}）")
            }
            (Lang::ZhCn, false, O::Finished { saved, total }) if saved == total => {
                format!("向 {peer} 发送了 {files}（{size}）")
            }
            (Lang::ZhCn, true, O::Finished { saved, total }) => {
                format!("从 {peer} 接收了 {saved}/{total} 个文件")
            }
            (Lang::ZhCn, false, O::Finished { saved, total }) => {
                format!("向 {peer} 送达了 {saved}/{total} 个文件")
            }
            (Lang::ZhCn, true, O::Declined) => format!("你拒绝了来自 {peer} 的 {files}"),
            (Lang::ZhCn, false, O::Declined) => format!("{peer} 拒绝了 {files}"),
            (Lang::ZhCn, true, O::Cancelled { by_peer: false }) => format!("从 {peer} 接收 {files}已取消"),
            (Lang::ZhCn, true, O::Cancelled { by_peer: true }) => format!("{peer} 取消了发送 {files}"),
            (Lang::ZhCn, false, O::Cancelled { by_peer: false }) => format!("向 {peer} 发送 {files}已取消"),
            (Lang::ZhCn, false, O::Cancelled { by_peer: true }) => format!("{peer} 取消了接收 {files}"),
            (Lang::ZhCn, true, O::Failed { reason }) => format!("从 {peer} 接收 {files}失败：{reason}"),
            (Lang::ZhCn, false, O::Failed { reason }) => format!("向 {peer} 发送 {files}失败：{reason}"),
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

    /// The progress bar's name: "Progress of sending 3 files to Kitchen PC".
    pub fn progress_name(&self, subject: &str) -> String {
        match self.0 {
            Lang::En => format!("Progress of {subject}"),
            Lang::ZhCn => format!("{subject}的进度"),
        }
    }

    pub fn current_file(&self, name: &str) -> String {
        match self.0 {
            Lang::En => format!("Now: {name}"),
            Lang::ZhCn => format!("正在传输：{name}"),
        }
    }

    pub fn finished(&self, saved: u32, total: u32, received: bool) -> String {
        let files = self.files_count(u64::from(total));
        match (self.0, received, saved == total) {
            (Lang::En, true, true) => format!("Done: {files} saved."),
            (Lang::En, false, true) => format!("Done: {files} delivered."),
            (Lang::En, _, false) => format!("Finished with problems: {saved} of {files} arrived."),
            (Lang::ZhCn, true, true) => format!("完成：已保存 {files}。"),
            (Lang::ZhCn, false, true) => format!("完成：已送达 {files}。"),
            (Lang::ZhCn, _, false) => format!("已结束，但有问题：{saved}/{total} 个文件送达。"),
        }
    }

    /// Why received files could not be saved. `receiver`: the receiving device's name (on the
    /// sending side), `None` on the receiving side.
    pub fn save_failure(&self, failure: crate::engine::SaveFailure, receiver: Option<&str>) -> String {
        use crate::engine::SaveFailure as F;
        match (self.0, failure, receiver) {
            (Lang::En, F::DiskFull, Some(peer)) => format!("{peer}'s disk is full. Nothing half-saved was kept."),
            (Lang::En, F::DiskFull, None) => {
                "This computer's disk is full. Nothing half-saved was kept. Free some space, or choose another receive folder in Settings.".to_owned()
            }
            (Lang::En, F::FolderNotWritable, Some(peer)) => {
                format!("The receive folder on {peer} can't be written to.")
            }
            (Lang::En, F::FolderNotWritable, None) => {
                "The receive folder can't be written to. Choose another one in Settings.".to_owned()
            }
            (Lang::En, F::FolderGone, Some(peer)) => format!("The receive folder on {peer} was removed."),
            (Lang::En, F::FolderGone, None) => {
                "The receive folder was removed. Choose another one in Settings, or put it back.".to_owned()
            }
            (Lang::ZhCn, F::DiskFull, Some(peer)) => format!("{peer} 的磁盘已满。未保留任何只保存了一半的文件。"),
            (Lang::ZhCn, F::DiskFull, None) => {
                "这台电脑的磁盘已满。未保留任何只保存了一半的文件。请腾出空间，或在设置中选择其他接收文件夹。".to_owned()
            }
            (Lang::ZhCn, F::FolderNotWritable, Some(peer)) => format!("{peer} 上的接收文件夹无法写入。"),
            (Lang::ZhCn, F::FolderNotWritable, None) => "接收文件夹无法写入。请在设置中选择其他文件夹。".to_owned(),
            (Lang::ZhCn, F::FolderGone, Some(peer)) => format!("{peer} 上的接收文件夹已被删除。"),
            (Lang::ZhCn, F::FolderGone, None) => "接收文件夹已被删除。请在设置中选择其他文件夹，或将其恢复。".to_owned(),
        }
    }

    /// Outgoing, while the receiver is busy and Ferry tries again by itself.
    pub fn waiting_busy(&self, peer: &str) -> String {
        match self.0 {
            Lang::En => format!("Waiting for {peer} (busy)…"),
            Lang::ZhCn => format!("正在等待 {peer}（对方正忙）…"),
        }
    }

    /// Where the files of a finished incoming transfer went.
    pub fn saved_in(&self, folder: &str) -> String {
        match self.0 {
            Lang::En => format!("Saved in {folder}"),
            Lang::ZhCn => format!("保存在 {folder}"),
        }
    }

    /// A file saved under another name than it was sent with (the name was taken).
    pub fn saved_as(&self, name: &str) -> String {
        match self.0 {
            Lang::En => format!("Saved as {name}"),
            Lang::ZhCn => format!("另存为 {name}"),
        }
    }

    /// More than one file saved under another name; `first` is one of them.
    pub fn saved_as_many(&self, n: usize, first: &str) -> String {
        match self.0 {
            Lang::En => format!("{n} files saved under new names, such as {first}"),
            Lang::ZhCn => format!("{n} 个文件以新名称保存，例如 {first}"),
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
            Lang::En => format!("folder, {}, {size}", self.files_count(files)),
            Lang::ZhCn => format!("文件夹，{files} 个文件，{size}"),
        }
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm), to tell "yesterday"
/// across month and year ends.
fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = i64::from(year) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    fn plurals_and_dates() {
        use super::super::history::{Entry, LocalTime, Outcome};
        let (en, zh) = (Tr(Lang::En), Tr(Lang::ZhCn));
        assert_eq!(en.finished(1, 1, true), "Done: 1 file saved.");
        assert_eq!(en.finished(3, 3, false), "Done: 3 files delivered.");
        assert_eq!(en.finished(0, 1, true), "Finished with problems: 0 of 1 file arrived.");
        assert_eq!(zh.finished(2, 2, true), "完成：已保存 2 个文件。");
        assert_eq!(en.folder_summary(1, "5 B"), "folder, 1 file, 5 B");
        let entry = |received, files, outcome| Entry {
            ended_at: 0,
            received,
            peer: "Anna's laptop".into(),
            files,
            bytes: 5,
            outcome,
            saved_file: None,
        };
        let cancelled = entry(true, 1, Outcome::Cancelled { by_peer: false });
        assert_eq!(
            en.history_sentence(&cancelled, "5 B"),
            "Receiving 1 file from Anna's laptop was cancelled"
        );
        assert_eq!(zh.history_sentence(&cancelled, "5 B"), "从 Anna's laptop 接收 1 个文件已取消");
        let sent = entry(false, 3, Outcome::Finished { saved: 3, total: 3 });
        assert_eq!(en.history_sentence(&sent, "5 B"), "Sent 3 files (5 B) to Anna's laptop");
        let declined = entry(true, 2, Outcome::Declined);
        assert_eq!(en.history_sentence(&declined, "5 B"), "You declined 2 files from Anna's laptop");

        let at = |year, month, day| LocalTime { year, month, day, hour: 9, minute: 5 };
        assert_eq!(en.when(at(2026, 3, 1), at(2026, 3, 1)), "Today 09:05");
        assert_eq!(en.when(at(2026, 2, 28), at(2026, 3, 1)), "Yesterday 09:05");
        assert_eq!(en.when(at(2025, 12, 31), at(2026, 1, 1)), "Yesterday 09:05");
        assert_eq!(en.when(at(2026, 1, 3), at(2026, 3, 1)), "3 Jan, 09:05");
        assert_eq!(en.when(at(2024, 12, 3), at(2026, 3, 1)), "3 Dec 2024, 09:05");
        assert_eq!(zh.when(at(2026, 1, 3), at(2026, 3, 1)), "1月3日 09:05");
        assert_eq!(zh.when(at(2026, 3, 1), at(2026, 3, 1)), "今天 09:05");
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
