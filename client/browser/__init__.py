"""Browser AI chats: the native-messaging host, the paste matcher, and the extension's files."""
