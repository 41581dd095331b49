package io.switchboard.browser;

import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;

import java.util.List;

/** The demo chat app as a user sees it: sign in, pick a conversation, type, send, call. */
final class ChatPage {

  final Chromium browser;

  ChatPage(Chromium browser) {
    this.browser = browser;
  }

  /** Opens the app at {@code url} (with its query) and signs in as {@code user}. */
  ChatPage signIn(String url, String user) {
    browser.driver.get(url);
    browser.js("sessionStorage.clear(); localStorage.clear();");
    browser.driver.get(url);
    WebElement name = browser.await("the sign-in form", d -> d.findElement(By.id("signin-name")));
    name.clear();
    name.sendKeys(user);
    browser.driver.findElement(By.id("signin-submit")).click();
    awaitLive();
    return this;
  }

  void awaitLive() {
    browser.awaitJs("the connection goes live", "return document.getElementById('conn').dataset.state === 'live'");
  }

  String transport() {
    return (String) browser.js("return document.getElementById('conn').dataset.transport");
  }

  String node() {
    return (String) browser.js("return document.getElementById('conn').dataset.node");
  }

  void createGroup(String name, String... members) {
    browser.driver.findElement(By.id("group-name")).sendKeys(name);
    browser.driver.findElement(By.id("group-members")).sendKeys(String.join(", ", members));
    browser.driver.findElement(By.id("group-create")).click();
    browser.awaitJs("the new group is open", "return document.getElementById('room-name').textContent === arguments[0]", name);
  }

  /** Clicks the conversation named {@code name} in the list. */
  void open(String name) {
    // Found and clicked in one try: the list may re-render between the two (then it tries again).
    browser.await("conversation " + name + " in the list", d -> {
      WebElement button = d.findElements(By.cssSelector("#conversations button"))
        .stream().filter(b -> b.findElement(By.className("name")).getText().contains(name)).findFirst().orElse(null);
      if (button == null) {
        return null;
      }
      button.click();
      return true;
    });
    browser.awaitJs("conversation " + name + " is open", "return document.getElementById('room-name').textContent === arguments[0]", name);
  }

  void type(String text) {
    browser.driver.findElement(By.id("composer-input")).sendKeys(text);
  }

  /** Replaces whatever the composer holds with {@code text} and presses Enter. */
  void send(String text) {
    WebElement input = browser.driver.findElement(By.id("composer-input"));
    input.clear();
    input.sendKeys(text);
    input.sendKeys(Keys.ENTER);
  }

  /** The texts of the messages shown (pending ones included), top to bottom. */
  @SuppressWarnings("unchecked")
  List<String> texts() {
    return (List<String>) browser.js(
      "return [...document.querySelectorAll('#messages li.message .text')].map(e => e.textContent)");
  }

  void awaitText(String text) {
    browser.awaitJs("message '" + text + "' is shown (not pending)",
      "return [...document.querySelectorAll('#messages li.message:not(.pending) .text')].some(e => e.textContent === arguments[0])",
      text);
  }
}
